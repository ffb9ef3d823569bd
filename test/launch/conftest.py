"""Fixtures of the launch-file tests: a models cache shared by the module's launches."""

import pytest


@pytest.fixture(scope='module')
def models_dir(tmp_path_factory):
    """A models cache for one module: each workload's models are trained once."""
    return tmp_path_factory.mktemp('models')
