"""
A hostile "gateway" for the lab: answers IGD searches and serves whatever
MODE says is nasty. Prints one line per HTTP request it gets.

argv: MODE OWN_ADDRESS [THIRD_HOST]
"""

import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

mode, own = sys.argv[1], sys.argv[2]
third = sys.argv[3] if len(sys.argv) > 3 else "198.51.100.12"
PORT = 5000
LOCATION = f"http://{own}:{PORT}/rootDesc.xml"
if mode == "third-host":
    LOCATION = f"http://{third}:{PORT}/rootDesc.xml"
IGD2 = "urn:schemas-upnp-org:device:InternetGatewayDevice:2"
WANIP2 = "urn:schemas-upnp-org:service:WANIPConnection:2"

GOOD_DESCRIPTION = f"""<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major><minor>1</minor>
</specVersion><device><deviceType>{IGD2}</deviceType><UDN>uuid:hostile</UDN>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:2</deviceType>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:2</deviceType>
<serviceList><service><serviceType>{WANIP2}</serviceType>
<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><controlURL>/ctl</controlURL>
<eventSubURL>/evt</eventSubURL><SCPDURL>/scpd.xml</SCPDURL></service></serviceList>
</device></deviceList></device></deviceList></device></root>""".encode()

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE root [<!ENTITY leak SYSTEM "file:///etc/passwd">]>
<root xmlns="urn:schemas-upnp-org:device-1-0"><device><deviceType>&leak;</deviceType>
</device></root>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<root><device><deviceType>&lol9;</deviceType></device></root>"""


def soap(body: str) -> bytes:
    return (
        '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_body(self, body: bytes, code: int = 200, length: int | None = None):
        self.send_response(code)
        self.send_header("Content-Type", 'text/xml; charset="utf-8"')
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        print(f"GET {self.path}", flush=True)
        if mode == "xxe":
            self.send_body(XXE)
        elif mode == "laughs":
            self.send_body(LAUGHS)
        elif mode == "doctype":
            self.send_body(b"<!DOCTYPE root>" + GOOD_DESCRIPTION.split(b"?>", 1)[1])
        elif mode == "big":
            self.send_body(b"<root>" + b"x" * (10 * 1024 * 1024) + b"</root>")
        elif mode == "endless":
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"<root>" * 1000)
            except OSError:
                print("endless body cut off by the client", flush=True)
        elif mode == "trickle":
            self.send_response(200)
            self.send_header("Content-Length", str(len(GOOD_DESCRIPTION)))
            self.end_headers()
            try:
                for byte in GOOD_DESCRIPTION:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                print("trickle cut off by the client", flush=True)
        elif mode == "endless-head":
            self.send_response(200)
            try:
                while True:
                    self.wfile.write(b"X-Pad: " + b"y" * 1000 + b"\r\n")
            except OSError:
                print("endless head cut off by the client", flush=True)
        elif mode == "cut":
            self.send_response(200)
            self.send_header("Content-Length", str(len(GOOD_DESCRIPTION)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(GOOD_DESCRIPTION[:100])
            self.close_connection = True
        elif mode == "bad-chunk":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"64\r\n" + GOOD_DESCRIPTION[:100] + b"\r\nzz\r\n")
        elif mode == "redirect":
            self.send_response(302)
            self.send_header("Location", f"http://{third}:{PORT}/rootDesc.xml")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_body(GOOD_DESCRIPTION)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        action = self.headers.get("SOAPAction", "")
        print(f"POST {self.path} {action}", flush=True)
        if mode == "soap-garbage":
            self.send_body(b"<s:Envelope><s:Body><s:Fault>garbage", code=500)
        elif mode == "soap-fault-nocode":
            self.send_body(soap("<s:Fault><faultstring>nope</faultstring></s:Fault>"), code=500)
        elif mode == "huge-list" and "GetListOfPortMappings" in action:
            entry = (
                "<p:PortMappingEntry><p:NewExternalPort>1</p:NewExternalPort>"
                "<p:NewInternalPort>1</p:NewInternalPort></p:PortMappingEntry>"
            )
            listing = (
                '&lt;p:PortMappingList xmlns:p="urn:schemas-upnp-org:gw:WANIPConnection"&gt;'
                + entry.replace("<", "&lt;").replace(">", "&gt;") * 1100
                + "&lt;/p:PortMappingList&gt;"
            )
            self.send_body(
                soap(
                    f'<u:GetListOfPortMappingsResponse xmlns:u="{WANIP2}">'
                    f"<NewPortListing>{listing}</NewPortListing>"
                    "</u:GetListOfPortMappingsResponse>"
                )
            )
        elif "GetStatusInfo" in action:
            self.send_body(
                soap(
                    f'<u:GetStatusInfoResponse xmlns:u="{WANIP2}"><NewConnectionStatus>Connected'
                    "</NewConnectionStatus><NewLastConnectionError>ERROR_NONE"
                    "</NewLastConnectionError><NewUptime>1</NewUptime></u:GetStatusInfoResponse>"
                )
            )
        else:
            self.send_body(soap(f'<u:X xmlns:u="{WANIP2}"/>'), code=500)


def ssdp_responder():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 1900))
    mreq = struct.pack("4s4s", socket.inet_aton("239.255.255.250"), socket.inet_aton(own))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    while True:
        data, addr = s.recvfrom(4096)
        if not data.startswith(b"M-SEARCH") or IGD2.encode() not in data:
            continue
        st = IGD2 if mode != "overlong" else IGD2 + ":" + "A" * 600
        usn = "uuid:hostile::" + st
        reply = (
            f"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nEXT:\r\n"
            f"LOCATION: {LOCATION}\r\nST: {st}\r\nUSN: {usn}\r\n\r\n"
        ).encode()
        s.sendto(reply, addr)
        print(f"answered {addr[0]}", flush=True)


threading.Thread(target=ssdp_responder, daemon=True).start()
server = ThreadingHTTPServer((own, PORT), Handler)
server.daemon_threads = True
print("hostile gateway ready", flush=True)
server.serve_forever()
