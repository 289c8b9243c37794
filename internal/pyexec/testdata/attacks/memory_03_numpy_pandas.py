# expect: memory
# why: numpy and pandas allocate outside Python's allocator; under RLIMIT_AS a 20 GB array fails at once with numpy's MemoryError subclass instead of touching pages
# effect: reason Memory; runner unaffected
import numpy as np
import pandas as pd

df = pd.DataFrame(np.ones((50_000, 50_000)))
result = float(df.values.sum())
