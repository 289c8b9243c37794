# expect: network
# why: UDP datagrams need no connection and IPv6 loopback is a second address family; urllib and pandas fetch URLs on their own
# effect: the listeners on 127.0.0.1:47001 and [::1]:47001 (TCP and UDP) log nothing
import socket

import pandas as pd

tried = {}
for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    try:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.sendto(b"cx_marker_net_udp", (host, 47001))
        tried["udp " + host] = "sent"
    except Exception as e:  # noqa: BLE001
        tried["udp " + host] = type(e).__name__
    try:
        s = socket.create_connection((host, 47001), timeout=2)
        s.sendall(b"cx_marker_net_tcp6\n")
        tried["tcp " + host] = "connected"
    except Exception as e:  # noqa: BLE001
        tried["tcp " + host] = type(e).__name__
try:
    pd.read_csv("http://127.0.0.1:47001/cx_marker_net_pandas.csv")
    tried["pandas"] = "fetched"
except Exception as e:  # noqa: BLE001
    tried["pandas"] = type(e).__name__
result = tried
