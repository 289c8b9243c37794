# expect: bad-result
# why: a list that contains itself (through a dict) has no JSON form; the converter must say "circular reference" instead of recursing until it crashes (duplicate keys and huge ints are pinned in convert_test.go)
# effect: reply is valid JSON with an error that says "circular reference"
a = [1, 2]
a.append({"back": a})
result = {"ok": True, "loop": a}
