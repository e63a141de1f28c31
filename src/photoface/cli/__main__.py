"""``python -m photoface.cli`` (and ``torchrun -m photoface.cli``): the ``photoface`` command."""

import sys

from photoface.cli.entry import main

sys.exit(main())
