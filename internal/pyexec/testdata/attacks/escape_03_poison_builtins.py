# expect: escape
# why: poisons builtins and the modules the bootstrap might use after the code ran (isinstance, len, str, type, repr, json, os.write, sys.stdout) so that the result conversion lies or crashes
# effect: the result is still converted exactly
# result: {"rows":[{"a":1,"b":"x"},{"a":2,"b":null}],"n":2,"text":"caf\u00e9"}
import builtins
import os
import sys

import pandas as pd

df = pd.DataFrame({"a": [1, 2], "b": ["x", None]})
result = {"rows": df, "n": 2, "text": "caf\u00e9"}
for name in ("isinstance", "len", "str", "type", "repr", "id", "set", "range", "zip", "memoryview", "float", "int", "__import__"):
    setattr(builtins, name, None)
sys.modules["json"] = None
sys.modules["_json"] = None
os.write = None
sys.stdout = None
sys.stderr = None
