import sys

from qa.serve.cli import main

sys.exit(main())
