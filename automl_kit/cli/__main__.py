"""``python -m automl_kit.cli``: the same as the ``automl-kit`` command."""

import sys

from automl_kit.cli import main

sys.exit(main())
