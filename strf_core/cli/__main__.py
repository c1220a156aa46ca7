"""``python -m strf_core.cli ...`` (what torchrun runs): the same as ``strf ...``."""

import sys

from strf_core.cli import main

sys.exit(main())
