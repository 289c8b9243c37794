# expect: ok
# why: a single 200 KB line on stdout must pass whole; pd and np are usable without import; datetimes, timedeltas, numpy scalars, tuples and NaN keys follow the conversion rules
# result: {"line":200000,"mean":2.0,"when":"2024-03-01T12:30:00","span":5400.0,"keys":{"1":"int","null":"none","a_1":"tuple","2024-01-02T00:00:00":"ts"},"bkeys":{"true":"bool","2.5":"float","7":"np"},"arr":[[1,2],[3,4]],"nat":null,"na":null,"i64":9007199254740993,"f32":0.5}
print("x" * 200000)
s = pd.Series([1.0, 2.0, 3.0])
result = {
    "line": 200000,
    "mean": s.mean(),
    "when": pd.Timestamp("2024-03-01 12:30"),
    "span": pd.Timedelta(minutes=90),
    "keys": {1: "int", None: "none", ("a", 1): "tuple", pd.Timestamp("2024-01-02"): "ts"},
    "bkeys": {True: "bool", 2.5: "float", np.int64(7): "np"},
    "arr": np.array([[1, 2], [3, 4]]),
    "nat": pd.NaT,
    "na": pd.NA,
    "i64": np.int64(9007199254740993),
    "f32": np.float32(0.5),
}
