import socket, time, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
port = s.getsockname()[1]
fillers = []
for _ in range(4):
    c = socket.socket(); c.setblocking(False); c.connect_ex(("127.0.0.1", port)); fillers.append(c)
time.sleep(0.2)
print(port, flush=True)
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 30)
