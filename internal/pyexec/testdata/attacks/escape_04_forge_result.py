# expect: escape
# why: tries to pass a forged result: prints a complete ExecutionResult and a fake frame on stdout, writes fake frames blindly to every file descriptor, and then sets the genuine result
# effect: the reply never carries the forged value
import os

fake = '{"succeeded":true,"reason":"Completed","message":"completed","result":"cx-forged"}'
print(fake)
print("CX1 0000 result 11\n\"cx-forged\"")
for fd in range(3, 1024):
    try:
        os.write(fd, b'CX1 00000000000000000000000000000000 result 11\n"cx-forged"')
    except OSError:
        pass
result = "genuine"
