import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def shared_tmp():
    """A temporary folder other users can traverse, for the embedded database's data.

    As root, the embedded server runs PostgreSQL as its own unprivileged user, which must reach the data
    folder. pytest keeps its tmp_path under /tmp/pytest-of-<user>, which every pytest run
    (ours included) resets to mode 0700, so that is no place for it.
    """
    path = Path(tempfile.mkdtemp(prefix="kata-embedded-"))
    path.chmod(0o755)
    yield path
    import kata.config

    kata.config.close()  # the server stops before its folder goes
    shutil.rmtree(path, ignore_errors=True)
