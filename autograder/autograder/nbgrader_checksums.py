"""``nbgrader autograde`` without a false alarm on test cells that hold hidden tests.

``generate_assignment`` saves each locked cell's checksum to the gradebook *before* it removes the hidden tests,
then recomputes it for the release; ``autograde`` compares the two and warns "Attribute 'checksum' ... has
changed!" for every untouched test cell with hidden tests (nbgrader issue 1961). Here, a locked cell whose content
still matches the checksum in its own metadata (the student did not touch it) is given the source version first
(what nbgrader would put there anyway), so only cells a student really edited are reported. Grading is unchanged:
nbgrader overwrites every locked cell with the source version.
"""

from __future__ import annotations

from nbgrader import utils
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import ClearOutput, DeduplicateIds, OverwriteCells, OverwriteKernelspec
from nbgrader.preprocessors.checkcellmetadata import CheckCellMetadata


class OverwriteUntouchedCells(OverwriteCells):
    """nbgrader's :class:`OverwriteCells`, which knows that an untouched release cell is not a changed cell."""

    def preprocess_cell(self, cell, resources, cell_index):
        meta = cell.metadata.get("nbgrader", {})
        if utils.is_locked(cell) and meta.get("checksum") and utils.compute_checksum(cell) == meta["checksum"]:
            try:
                saved = self.gradebook.find_source_cell(meta["grade_id"], self.notebook_id, self.assignment_id)
                cell.source = saved.source
            except MissingEntry:
                pass
        return super().preprocess_cell(cell, resources, cell_index)


SANITIZE_PREPROCESSORS = [ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteUntouchedCells,
                          CheckCellMetadata]
