"""Course autograder: the checks used by test cells, the sandboxed grader and the student self-check."""
