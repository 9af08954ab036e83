"""
In a lab host: the bare Twisted floor of an SSDP responder: a DatagramProtocol on UDP 1900
that answers every datagram with one fixed 200 OK (no parsing, no checks, no limits).
"""

from twisted.internet import reactor
from twisted.internet.protocol import DatagramProtocol

REPLY = (
    b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\n"
    b"LOCATION: http://10.0.0.1:8000/description.xml\r\nSERVER: Linux UPnP/1.1 bare/1\r\n"
    b"ST: upnp:rootdevice\r\nUSN: uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427::upnp:rootdevice\r\n"
    b"\r\n"
)


class Bare(DatagramProtocol):
    def datagramReceived(self, data, addr):
        self.transport.write(REPLY, addr)


reactor.listenUDP(1900, Bare())
print("listening", flush=True)
reactor.run()
