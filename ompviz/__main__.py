import sys

from ompviz.cli import main

sys.exit(main())
