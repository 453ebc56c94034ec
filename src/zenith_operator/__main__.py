import sys

from zenith_operator.cli import main

sys.exit(main())
