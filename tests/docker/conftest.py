"""Settings every docker test shares.

testcontainers' reaper (``testcontainers/ryuk``) is disabled: no registry serves its image on the
CI machine kind, and every fixture here stops what it starts in its teardown. Containers a
crashed run leaves behind carry the ``org.testcontainers`` label, and ``.ci/run`` removes them
before the next run.
"""

from __future__ import annotations

from testcontainers.core.config import testcontainers_config

testcontainers_config.ryuk_disabled = True
