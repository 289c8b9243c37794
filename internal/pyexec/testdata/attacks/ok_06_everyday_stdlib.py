# expect: ok
# why: everyday code must not trip the audit hook: asyncio (a socketpair inside), tempfile and logging in the scratch dir, pandas writing and reading CSV and JSON there, warnings, time zones, platform (whose processor probe is refused quietly)
# result: {"a":3,"plat":"Linux","rows":5,"json":"{\"x\": 1}","re":true,"tz":"Europe/Paris","cpu":true,"mean":2,"cwd_files":["app.log","out.csv","out.json"]}
import asyncio, tempfile, logging, platform, os, io, json, re, zoneinfo, statistics, warnings
import pandas as pd, numpy as np
async def f():
    await asyncio.sleep(0.01)
    return 3
a = asyncio.run(f())
with tempfile.NamedTemporaryFile("w", delete=False) as t:
    t.write("x")
logging.basicConfig(filename="app.log", level=logging.INFO)
logging.info("hi")
df = pd.DataFrame({"a": np.random.default_rng(1).random(5)})
df.to_csv("out.csv")
back = pd.read_csv("out.csv")
df.to_json("out.json")
warnings.warn("careful")
ts = pd.Timestamp.now(tz="Europe/Paris")
result = {"a": a, "plat": platform.system(), "rows": len(back), "json": json.dumps({"x": 1}), "re": bool(re.match("a", "a")),
          "tz": str(ts.tz), "cpu": os.cpu_count() is not None, "mean": statistics.mean([1, 2, 3]), "cwd_files": sorted(os.listdir("."))[:3]}
