"""Ray Job entry point: `bert2dnn augment`. Submit with
`ray job submit --working-dir . -- python jobs/augment.py --config jobs/configs/FILE.yaml`."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bert2dnn_ray.cli import job_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(job_main(__file__, sys.argv[1:]))
