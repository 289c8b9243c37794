# expect: bad-result
# why: three values the converter must refuse with a clear message: a list that contains itself, two dict keys that become the same string (1 and "1"), an integer too large for str()
# effect: reply is valid JSON with an error that says "circular reference"
a = [1, 2]
a.append({"back": a})
result = {"ok": True, "loop": a}
