"""Hydra configuration of the training app (reference_impl.train); a package so that tests can compose it."""
