"""`python -m collector.workers`: a receiver worker process, started by `cc-analytics run --workers N`."""

import sys

from collector.workers.process import main

sys.exit(main())
