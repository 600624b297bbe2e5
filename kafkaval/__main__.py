import sys

from kafkaval.cli import main

sys.exit(main())
