# expect: bad-result
# why: prints something that looks like a result and leaves with os._exit(0), so python exits 0 with no result: that must be an error, not success
# effect: reply is valid JSON, not Completed
import os

print('{"result": 42}', flush=True)
os._exit(0)
