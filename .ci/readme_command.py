"""Print README command N (1 or 2): the non-comment lines of the Nth bash block of Quickstart.

CI runs what the README says, literally, so the two cannot drift apart.
"""

import re
import sys
from pathlib import Path

readme, number = Path(sys.argv[1]).read_text(), int(sys.argv[2])
quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
blocks = re.findall(r"```bash\n(.*?)```", quickstart, flags=re.S)
lines = [line for line in blocks[number - 1].splitlines() if not line.lstrip().startswith("#")]
print(" && ".join(line.strip() for line in lines if line.strip()))
