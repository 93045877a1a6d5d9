import sys

from hpcval.cli import main

sys.exit(main())
