//! The hand-written parts of the manual page, as roff.
//!
//! `--generate man` ([`crate::cli::generate`]) renders NAME, SYNOPSIS, the first
//! paragraph of DESCRIPTION and OPTIONS from the option definitions in
//! `cli/options.rs`, and adds the text kept here: the rest of DESCRIPTION after the
//! generated paragraph, and every section after OPTIONS. The facts come from
//! the behaviour contract: docs/compatibility.md §A.2 (departures),
//! docs/compatibility.md §A.3 (extensions), docs/compatibility.md §4 (exit
//! statuses) and docs/compatibility.md §6.2 (the EOF rules); and
//! from the message texts in `report/`; change them together.
//!
//! The text is man(7) roff checked with `mandoc -T lint` and `groff -ww`
//! (tests/docs.rs). Tables use tbl(1), which the page's first line asks
//! man(1) to run. No blank lines (roff would warn): paragraphs are `.PP`.

/// The date of the last change of the manual, shown in its footer.
pub const DATE: &str = "2026-12-02";

/// DESCRIPTION, after the generated first paragraph.
pub const DESCRIPTION: &str = r#".PP
It works in one of these modes:
.TP
.BR Client " (the default)"
connects to each port of the list in turn, trying every
address of
.I destination
in order until one connects, and relays: what it reads on standard input
goes to the connection, what it receives goes to standard output.
.TP
.BR Scan " (" \-z )
connects to the ports and closes again, sending nothing: the exit status
says whether any port accepted.
With
.B \-v
it prints nc's report, with
.B \-vv
a diagnosis of each answer, with
.B \-\-json
one JSON object per probe (see
.BR "SCAN REPORT" ).
The destination may also be a whole network: a CIDR block, an IPv4
range, a comma list, or
.B \-\-hosts
.I file
(see
.BR "SCANNING NETWORKS" ).
With
.B \-\-wait
.I seconds
it waits for the ports to accept instead.
.TP
.BR Listen " (" \-l )
waits for one client (with
.BR \-k ,
one after another) on
.I port
and relays as a client does.
Without an address it binds 0.0.0.0 (IPv4 only);
.B \-6
binds :: and accepts IPv4 clients too.
.TP
.BR UDP " (" \-u ") and Unix-domain sockets (" \-U )
work in each mode.
With
.BR \-U ,
.I destination
is the socket's path; a path starting with @ names an abstract socket.
.PP
A
.I port
is a number from 1 to 65535, a service name from
.IR /etc/services ,
or a range
.IR lo \- hi
(inclusive; 9\-7 is 7 to 9).
Several ports are tried in the order given, ranges in ascending order,
duplicates kept;
.B \-r
shuffles the whole list.
A listener takes one port, and 0 picks a free one
.RB ( \-v
shows which).
.PP
Options follow GNU getopt: flags cluster
.RB ( \-zvw1 ),
values attach
.RB ( \-q\-1 ),
options may follow the operands unless
.B POSIXLY_CORRECT
is set, and
.B \-\-
ends them.
Long options may be abbreviated to any unambiguous prefix.
.PP
Messages go to standard error, prefixed with the name ncrab was run as
.RB ( "nc: "
when it is installed as a symlink named nc);
standard output carries only data, and
.B \-\-json
lines.
"#;

/// Every section after OPTIONS.
pub const SECTIONS: &str = r#".SH "EOF AND HALF-CLOSE"
These are nc's rules, and ncrab keeps them exactly.
End of file on standard input does not by itself end a session, nor,
without
.B \-N
or
.BR \-q ,
send the peer a FIN.
A TCP client ends when the peer closes; a listener ends when its client
has finished sending.
The end of a session is not an error: the exit status is 0.
.SS "TCP client"
.na
.TS
allbox tab(|);
lb lb lb
lw(18n) lw(16n) lw(27n).
Situation|On the network|When ncrab exits
T{
EOF on stdin, no \fB\-N\fR
T}|T{
no FIN is sent
T}|T{
when the peer closes; never, if the peer waits for our FIN (use \fB\-N\fR)
T}
T{
EOF on stdin, with \fB\-N\fR or \fB\-q\fR
T}|T{
FIN sent at once
T}|T{
still only when the peer closes: \fB\-q\fR does not end a TCP client whose server keeps the connection open
T}
T{
\fB\-q\fR \fIN\fR, session ended
T}|T{
\-
T}|T{
\fIN\fR seconds after the end; \fB\-q 0\fR at once
T}
T{
peer closes, stdin still open
T}|T{
\-
T}|T{
at EOF on stdin; data sent after the peer closed draws a reset, which ends the session
T}
T{
peer resets (RST)
T}|T{
\-
T}|T{
at once, silently
T}
T{
\fB\-d\fR
T}|T{
stdin is never read; no FIN unless \fB\-N\fR
T}|T{
when the peer closes; with \fB\-q\fR \fIN\fR, \fIN\fR seconds later
T}
T{
\fB\-w\fR \fIN\fR
T}|T{
\-
T}|T{
after \fIN\fR seconds with no data either way
T}
.TE
.ad
.SS "TCP listener"
.na
.TS
allbox tab(|);
lb lb
lw(14n) lw(48n).
Options|Behaviour
T{
(none)
T}|T{
EOF on stdin sends no FIN; ncrab waits for the client to close, then exits.
When the client closes first, ncrab exits at once, even if stdin is still
open; unread input is dropped.
T}
T{
\fB\-N\fR
T}|T{
EOF on stdin sends a FIN.
T}
T{
\fB\-q 0\fR
T}|T{
EOF on stdin sends a FIN, stops reading the network and exits at once:
data the client sends later is lost.
T}
T{
\fB\-q\fR \fIN\fR
T}|T{
as \fB\-q 0\fR, but exits \fIN\fR seconds later.
T}
T{
\fB\-k\fR
T}|T{
serves clients one after another, sharing stdin: after its EOF, later
clients see EOF at once.
With \fB\-q\fR 0 or more, EOF on stdin during a session clears \fB\-k\fR:
ncrab exits after that client.
T}
T{
\fB\-w\fR \fIN\fR
T}|T{
does not limit the wait for a client; once one is connected, ends the
session after \fIN\fR seconds with no data either way.
T}
.TE
.ad
.SS "UDP client"
.na
.TS
allbox tab(|);
lb lb
lw(14n) lw(48n).
Options|Behaviour
T{
(none)
T}|T{
EOF on stdin does not end the session (UDP has no EOF): it runs until
\fB\-w\fR, an ICMP error or an empty datagram from the peer.
T}
T{
\fB\-q 0\fR
T}|T{
exits at EOF on stdin, so a reply that arrives later is missed.
T}
T{
\fB\-q\fR \fIN\fR
T}|T{
exits \fIN\fR seconds after EOF on stdin.
T}
T{
\fB\-N\fR
T}|T{
no effect: a UDP socket cannot send an end of file.
T}
T{
\fB\-w\fR \fIN\fR
T}|T{
exits after \fIN\fR seconds with no data either way.
T}
T{
closed port
T}|T{
the ICMP port unreachable answer ends the session, silently.
T}
.TE
.ad
.SS "UDP listener"
Without
.BR \-k ,
a UDP listener waits, with no time limit, for a first datagram, then
talks only to its sender.
An empty datagram from the peer ends the session; EOF on stdin ends it
only under
.B \-q
(0 or more, after that many seconds).
With
.B \-k
it receives from any number of peers but cannot answer them: its socket
has no peer, so what it reads on stdin is dropped and stdin is no longer
read.
.SS "Other limits"
.B \-W
.I n
ends the session after
.I n
reads from the network (datagrams, for UDP): reading stops at once, and
whatever was received is still written out.
When standard output cannot be written to any more, ncrab stops reading
the network; when the network cannot be written to, it stops reading
standard input.
.SH TLS
With
.B \-c
(or
.BR \-\-tls ),
ncrab speaks TLS over the TCP connection, with OpenBSD nc's options, checks
and messages.
.PP
A client verifies the server's certificate chain against the trust
anchors
.RB ( \-R ,
else the system store:
.IR /etc/ssl/certs/ca\-certificates.crt ,
or the file named by
.BR SSL_CERT_FILE )
and its name against
.B \-e
or else the destination host; the name is also sent as SNI when it is a
host name.
.B \-T noverify
checks nothing,
.B \-T noname
skips the name.
.B \-H
.I hash
accepts exactly the certificate whose hash is
.I hash
(SHA256: and the hex of SHA\-256 over its DER, as
.B \-v
prints it), even one that does not chain to a trust anchor; any other
certificate is refused after the handshake with
.BI "peer certificate is not " hash .
A failed handshake ends the run with status 1 and
.BI "ncrab: tls handshake failed (" reason )
where
.I reason
says what failed: for example
.BR "certificate verification failed: certificate expired on " \fIdate\fR,
.BR "name `" \fIhost\fR "' not present in server certificate: certificate is for " \fInames\fR,
.B certificate verification failed: unknown issuer
or
.BR "the peer did not speak TLS" .
X.509 v1 certificates, CA certificates used as a server's own and
certificates that carry their name only in the Common Name are refused,
with the fix in the reason.
.PP
With
.BR \-v ,
after nc's
.B Connection to
line come OpenBSD's lines:
.BR "TLS handshake negotiated" " \fIversion\fR/\fIcipher\fR " "with host" " \fIhost\fR,"
.BR "Peer name:" ,
.BR "Subject:" ,
.BR "Issuer:" ,
.BR "Valid From:" ,
.BR "Valid Until:" ,
.B Cert Hash:
and, when ALPN agreed,
.BR "Application Layer Protocol:" .
.PP
A listener
.RB ( \-lc )
serves the certificate chain of
.B \-\-tls\-cert
with the key of
.BR \-K ;
without them it makes a throw\-away self\-signed certificate for the
listening name and localhost, in memory, and with
.B \-v
prints its
.B Cert Hash:
line so that a client can pin it with
.BR \-H .
.B \-T clientcert
with
.B \-R
requires a client certificate signed by those anchors; a client without
one is refused with
.BR "No client certificate provided" ,
and with
.B \-e
one without that name with
.BI "name (" name ") not found in client cert" .
A client whose handshake fails gets one line; with
.B \-k
the listener goes on to the next.
.PP
.B \-z \-c
completes the handshake on each port that accepts the connection (no data
is sent): the port is open when the handshake and the checks succeed;
otherwise nc's failure line names the TLS reason.
.B \-vv
adds protocol, cipher, subject, issuer, names and days to expiry;
.B \-\-json
adds a "tls" object (version, cipher, subject, issuer, sans, not_after,
days_left, alpn, chain_ok: true when the chain and name were verified,
false when the certificate's checks refused it, null when nothing was
checked, with
.B "\-T noverify"
or
.BR \-H ).
.PP
.BI \-\-cert\-warn " days"
makes such a scan a certificate check: each port whose certificate
expires within
.I days
gets the line
.IB PROG ": certificate of " HOST " port " PORT " (tcp) expires in " N " days, on " DATE
.RB ( "has expired" ,
under
.BR "\-T noverify" ),
each port whose handshake or certificate check failed gets nc's failure
line, with or without
.BR \-v ,
and the run exits 1 if any did. With
.B \-\-hosts
it checks a list of hosts.
.PP
End of data: with
.BR \-N ,
standard input's end sends close_notify and then shuts the TCP write side;
a close_notify from the peer is the network's end of file, and so is a
plain FIN
.RB ( \-vv
notes that the data may be truncated).
The session ends with close_notify once everything read from standard
input has been written to the socket
.RB ( \-w
bounds that wait).
A TLS error after the handshake (a record that does not decrypt, the
peer's fatal alert, a reset) prints
.BI "ncrab: tls read failed (" reason )
(after a failed write,
.BI "ncrab: tls write failed (" reason ) ),
where
.I reason
is for example
.BR "decryption failed (corrupted record)" ,
.B the peer ended the session with an alert (handshake failure)
or
.BR "Connection reset by peer" .
What was decrypted before the error is still written to standard output;
then ncrab exits with status 1, as OpenBSD nc does: a client tries no
further port, and a
.B \-lc
listener ends even with
.BR \-k .
.BR \-q ,
.BR \-w ,
.B \-d
and
.B \-C
work as without TLS;
.B \-t
and
.B \-i
(outside scans) are refused, as are
.BR \-u ,
.BR \-U ,
.B \-F
and the options of the listeners that serve and of the session logs
.RB ( \-\-exec ,
.BR \-\-broker ,
.BR \-\-output ", ...)."
.B \-T protocols=
.RB ( tlsv1.2 ,
.BR tlsv1.3 ,
.BR all ,
.BR default ,
.BR secure ),
.BR "\-T ciphers=" ,
.B \-T alpn=
(or
.BR \-\-tls\-alpn )
and
.B \-T muststaple
tune the handshake; with
.B \-x
TLS runs inside the proxy tunnel.
.PP
.B \-\-starttls
.I proto
first speaks the plaintext preamble of a protocol that upgrades its
connection, as
.B openssl s_client \-starttls
does, then runs the handshake on the same connection, in a client or a
.B \-z
scan:
.BR smtp ,
.BR lmtp ,
.BR pop3 ,
.BR imap ,
.BR ftp ,
.BR xmpp ,
.BR xmpp\-server ,
.BR irc ,
.BR postgres ,
.BR mysql ,
.BR nntp ,
.B sieve
or
.BR ldap .
.B \-\-starttls\-name
is the EHLO or LHLO name (default: this machine's host name) and the XMPP
domain (default: the destination as typed).
A refusal ends the run with
.BI "starttls " proto " failed: the server answered \(dq" reply \(dq
(status 1); with
.B \-vv
the server's replies follow, one indented
.BI "server: " line
each. In a scan such a port fails with that reason.
.B \-w
bounds the preamble; a preamble over 64 KiB fails.
.SH "SCAN REPORT"
With
.BR \-z ,
ncrab connects to each port and closes the connection again, sending
nothing.
Without
.B \-v
it prints nothing: the exit status says whether any port accepted (0) or
none did (1).
With
.B \-v
it prints nc's lines on standard error, one for each attempt:
.TP
\fBConnection to\fR \fIhost port\fR \fBport [\fR\fIproto\fR\fB/\fR\fIservice\fR\fB] succeeded!\fR
The port accepted the connection.
When the name differs from the address, the host appears as
.IR "host " ( ip ).
.I service
is the port's name in
.IR /etc/services ,
or * when it has none and always with
.BR \-n .
.TP
\fBncrab: connect to\fR \fIhost\fR \fBport\fR \fIport\fR \fB(\fR\fIproto\fR\fB) failed:\fR \fIerror\fR
This address refused the connection or could not be reached;
.I error
is the system's text, explained below.
A host with several addresses gets one line for each address that fails;
once one connects, the port's other addresses are not tried.
.TP
\fBncrab: connect to\fR \fIhost\fR \fBport\fR \fIport\fR \fB(\fR\fIproto\fR\fB) timed out: Operation now in progress\fR
No answer within the
.B \-w
timeout.
The odd error text is nc's: the one left by the pending connect.
.TP
\fBncrab: getaddrinfo for host "\fR\fIhost\fR\fB" port\fR \fIport\fR\fB:\fR \fIerror\fR
The name does not resolve.
This is fatal: the rest of the list is not scanned, and the status is 1.
In a list of destinations (see
.BR "SCANNING NETWORKS" )
the line takes the name's place in the report and the scan goes on.
.PP
The lines come in nc's order: the ports in the order of the list and, for
each port, its addresses in the order the resolver gave them.
ncrab runs up to
.B \-\-window
probes at once, yet the lines, their order, the exit status and the
meaning of
.B \-w
are exactly those of the sequential nc; only the wall time differs.
.B \-i
or a fixed
.B \-p
makes the scan sequential.
.SS "Diagnoses (\-vv)"
With
.B \-vv
each of the lines above is followed by one that starts with a tab, the
time the answer took, and what it means:
.PP
.EX
ncrab: connect to 192.0.2.7 port 25 (tcp) failed: Connection refused
	3 ms: closed: 192.0.2.7 answered with a TCP reset: nothing listens ...
.EE
.PP
What each error means in general, and what to check, is below; the
explanation ncrab prints is more precise whenever the kernel tells more
(which router sent which ICMP message, how many SYNs went unanswered,
what listens on this machine instead): see
.BR DIAGNOSIS .
The outcomes and what to check:
.TP
.B succeeded
open: the host accepted the TCP handshake; something listens on the port.
.TP
.BR "Connection refused " (ECONNREFUSED)
closed: the host answered with a TCP reset, so it is reachable, but
nothing listens on the port, or a firewall rejects with a reset.
Check that the service runs, and on which address it listens.
.TP
.BR "timed out" " (the \-w timeout)"
no answer within the timeout: a firewall silently drops the packets, or
the host is down.
Check the host and any firewall on the way.
.TP
.BR "Connection timed out " (ETIMEDOUT)
no answer: the kernel gave up waiting for the handshake.
The causes are the same.
.TP
.BR "No route to host " (EHOSTUNREACH)
a router answered with ICMP host unreachable or administratively
prohibited, or nobody answered ARP on the local link.
Check that the host is up, and the routes and firewalls on the way.
.TP
.BR "Network is unreachable " (ENETUNREACH)
this machine has no route to that network.
Check the routing table and the address.
.TP
.BR "Permission denied" ", " "Operation not permitted " "(EACCES, EPERM)"
a local firewall or a prohibit route refused the packet, or the address
is a broadcast address (see
.BR \-b ).
.TP
.BR "Invalid argument " (EINVAL)
the kernel refused the route (a blackhole route, for example) or the
address.
.TP
.BR "Cannot assign requested address " (EADDRNOTAVAIL)
no local address or port is available for the connection.
Check
.BR \-s ,
.B \-p
and the ephemeral port range.
.TP
.B getaddrinfo
the name does not resolve.
Check its spelling,
.I /etc/hosts
and the DNS configuration.
.PP
Outside a scan,
.B \-vv
ends each session with a summary on standard error:
.PP
.RS
.BI "Sent " n " bytes, received " m " bytes in " s " s (" rate /s)
.RE
.SS "JSON (\-\-json)"
With
.B \-z
and
.BR \-\-json ,
ncrab prints on standard output one JSON object per line for every
probe; the lines on standard error do not change.
Every object has all these fields, in this order:
.TP
.B host
the destination as given.
.TP
.B ip
the numeric address probed, or null when the name did not resolve or
the probe went through a proxy.
.TP
.B port
the port, a number.
.TP
.B proto
"tcp" or "udp".
.TP
.B service
the port's name in
.IR /etc/services ,
or "*".
.TP
.B state
"open" (connected),
"closed" (ECONNREFUSED),
"filtered" (no answer: a timeout, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH,
EACCES or EPERM)
or "error" (any other failure, a name that does not resolve included).
.TP
.B errno
the error's symbolic name, such as "ECONNREFUSED"; "ETIMEDOUT" for a
.B \-w
timeout; null when the port is open or the name did not resolve.
.TP
.B error
the error's text, such as "Connection refused"; "timed out" for a
.B \-w
timeout; the resolver's text for a name that does not resolve; null when
the port is open.
.TP
.B ms
how long the probe took, in whole milliseconds.
.TP
.B diagnosis
why the probe failed, as an object (see
.BR DIAGNOSIS ),
or null when the port is open or the probe went through a proxy.
.TP
.B banner
with
.BR \-\-banner ,
the first line the server sent, escaped as on the
.B \-vv
line; null otherwise.
.PP
Through a proxy
.RB ( \-x ),
the state is what the proxy answered: SOCKS "Connection refused" is
"closed", "Network unreachable", "Host unreachable" and "TTL expired" are
"filtered", and any other refusal, or a proxy that cannot be reached, is
"error" with the proxy's message as the text.
nc ends the scan at the first refusal; so does ncrab.
.PP
The lines come in nc's report order, the order of the
.B \-v
lines, whatever order the answers arrived in, and an attempt that nc would
not make (a port's further addresses once one connected) has no line.
For example:
.PP
.EX
{"host":"localhost","ip":"127.0.0.1","port":22,"proto":"tcp",
 "service":"ssh","state":"open","errno":null,"error":null,"ms":0}
.EE
.PP
(one line in the real output).
.SH DIAGNOSIS
With
.B \-vv
or
.BR \-\-json ,
ncrab explains each failure as precisely as the kernel tells it, and
says what to check next.
The lines of
.B \-v
stay nc's; the explanation follows them on lines that start with a tab
(for a scan, after the time the answer took).
ncrab asks the kernel to keep the ICMP errors a connecting socket receives
.RB ( IP_RECVERR ", " IPV6_RECVERR ;
cleared again before a session relays, so the relay is nc's) and, for a
probe that failed, reads who sent the error and what it said, how many
SYNs went out
.RB ( TCP_INFO ),
and, for an address of this machine, what does listen
.RI ( /proc/net/tcp ", " tcp6 ", " udp ", " udp6 ,
with the owning process when
.I /proc
shows it).
For example:
.PP
.EX
ncrab: connect to 10.9.1.2 port 443 (tcp) failed: No route to host
	0 ms: 10.9.0.1 (a router on the way) answered ICMP host unreachable: ...
ncrab: connect to 127.0.0.1 port 8080 (tcp) failed: Connection refused
	0 ms: closed: 127.0.0.1 answered with a TCP reset: ...
	nothing listens on port 8080 of 127.0.0.1; a listener on [::1]:8080 accepts only IPv6 (pid 812, python3)
.EE
.PP
With
.BR \-\-json ,
each object's
.B diagnosis
field holds
.B code
(below),
.B reporter
(the address that answered: the ICMP error's sender, or the host that
reset; null when nobody did),
.B role
("destination", "router" or "this\-host"),
.B icmp
(version, type and code of the ICMP message, or null),
.B syns
(SYNs sent, from TCP_INFO, or null),
.B listeners
(for an address of this machine: the listeners on the port, each with
address, pid and process, the last two null when not visible; null for
other addresses),
.B nearest
(with no listener on the port: the nearest listening ports below and
above),
and
.B text
(the
.B \-vv
explanation).
The codes are stable:
.TP
.B refused
the host answered the SYN with a TCP reset: nothing listens on the port
(or a firewall rejects with tcp\-reset).
For an address of this machine, what listens instead is named.
.TP
.B icmp\-host\-unreachable
ICMP host unreachable (ICMPv6 address unreachable) from a router: the
last router cannot reach the host.
From the destination itself: its firewall rejects the port.
.TP
.B icmp\-net\-unreachable
ICMP network unreachable (ICMPv6 no route to destination): a router has
no route to the destination's network.
.TP
.B icmp\-port\-unreachable
ICMP port unreachable: from the destination, nothing listens on that
UDP (or TCP) port; from a router, its firewall rejects the port.
.TP
.B icmp\-admin\-prohibited
ICMP communication administratively prohibited (ICMPv6 administratively
prohibited, policy failure, reject route): a firewall rejects the
traffic.
.TP
.B icmp\-frag\-needed
ICMP fragmentation needed (ICMPv6 packet too big): the packets are too
big for a link on the way.
.TP
.B icmp\-ttl\-exceeded
ICMP time exceeded: the packets ran out of hops (see
.BR \-M )
or the routes loop.
.TP
.B icmp\-other
another ICMP error; its type and code are in the object.
.TP
.B neighbour\-unreachable
this machine found nobody on the local link for the address (no ARP or
neighbour discovery reply).
.TP
.B timeout\-no\-answer
no answer to the SYNs (their number and the time are given): a firewall
drops the packets, or the host is down or not on that network.
.TP
.B timeout\-host\-answers
no answer, but the same address answered another probe of this run: a
firewall drops this port.
.TP
.B local\-firewall
this machine's own firewall (netfilter OUTPUT) dropped or rejected the
packets: sending failed with EPERM, a reject rule answered from this
machine, or SYN retransmissions never left it.
.TP
.B broadcast\-needs\-b
permission denied for a broadcast address: use
.BR \-b .
.TP
.B no\-route
this machine has no route to the address (ENETUNREACH at once).
.TP
.B route\-unreachable
this machine's routing table marks the address unreachable.
.TP
.B route\-prohibited
this machine's routing table prohibits the address (EACCES at once).
.TP
.B route\-blackhole
this machine's routing table drops the address (EINVAL at once).
.TP
.B bind\-privileged
binding
.B \-p
below the unprivileged port limit (1024) needs root or
CAP_NET_BIND_SERVICE.
.TP
.B bind\-in\-use
the
.B \-p
port is in use.
.TP
.B bind\-address\-not\-local
the
.B \-s
address is not one of this machine's.
.TP
.B dns\-nxdomain
the name does not exist.
.TP
.B dns\-no\-answer
no name server answered (EAI_AGAIN).
.TP
.B dns\-no\-address\-family
the name has no address of the family asked with
.B \-4
or
.BR \-6 ;
the other family's address is named when it has one.
.TP
.B dns\-numeric\-only
with
.B \-n
the host must be a numeric address.
.TP
.B dns\-failure
any other lookup failure.
.TP
.B unknown\-service
a port name (or
.BR \-p )
that /etc/services does not know.
.TP
.B other
any other error; its errno is in the line.
.PP
An open port has no diagnosis; with
.B \-\-banner
(and
.BR \-z ),
ncrab waits up to the given milliseconds (500 by default) for the
server to speak first, sends nothing, and reports the first line it
sends, escaped (\e\e, \et, \er, \en and \exHH for other bytes outside
printable ASCII):
.PP
.EX
Connection to 192.0.2.7 22 port [tcp/ssh] succeeded!
	1 ms: open: the host accepted the TCP handshake, ...
	banner: SSH\-2.0\-OpenSSH_9.2p1 Debian\-2+deb12u3
.EE
.PP
The probes stay concurrent while they wait.
.SH "SCANNING NETWORKS"
These forms of
.I destination
are extensions (nc rejects them); any other text is a host name, looked
up exactly as nc looks it up.
.TP
.I address/prefix
A CIDR block:
.BR 10.0.0.0/24 ,
.BR fd00::/120 .
The address must have no bits set beyond the prefix.
The network and broadcast addresses of an IPv4 block larger than /31 are
skipped, as nmap skips them; a /31 or /32 is used whole, IPv6 blocks are
never trimmed.
.TP
.I a.b.c.d
with ranges: an IPv4 range, each of the four parts a number or
.IR lo \- hi :
.B 10.0.0.1\-40
(40 hosts),
.B 10.0.0\-3.1
(10.0.0.1, 10.0.1.1, 10.0.2.1, 10.0.3.1).
.TP
.IR item , item ,...
A comma list of blocks, ranges, names and addresses.
.TP
.BI \-\-hosts " file"
The destinations one per line (each line any of the forms above),
.B \-
for standard input; text from # to the end of a line is a comment, blank
lines are skipped.
Every operand is then a port.
A bad line is refused with its number:
.IB file : line : " item" : " reason" .
.PP
One block or range may hold at most 16777216 addresses (a /8, an IPv6
/104): a larger one is refused before anything is sent.
The list is checked whole first, then walked one address at a time, so a
/16 of 1000 ports runs in a few megabytes.
.PP
All the probes of all the hosts share the one window
.RB ( \-\-window ;
for a list the default allows up to 8192 in flight).
The report is in input order, host by host and, for each host, port by
port, with nc's lines; each line is printed as soon as every line before
it is known.
A name with several addresses keeps nc's rule: the first address that
answers.
.B \-\-json
objects name the host they belong to.
The status is 0 if any port of any host connected.
.TP
.B \-w auto
Each host's connect timeout is learned from its answers, as TCP learns
its retransmission timeout: the smoothed round-trip time plus four times
its deviation, between 100 ms and 3 s, 1 s until the host first answers.
A probe that times out on a host that has answered before is tried once
more (its SYN or the answer was probably lost).
A numeric
.B \-w
keeps its meaning.
.TP
.BI \-\-rate " n"
At most
.I n
connects are started per second, spread evenly;
.B \-\-window
still caps how many are in flight.
.TP
.BI \-\-wait " seconds"
Each listed port is retried until it accepts, pausing 50 ms, then twice
as long each time up to 1 s, for at most
.IR seconds .
The status is 0 as soon as every port has accepted, 1 at the deadline.
With
.BR \-v ,
nc's line for each port once it is known: its success line, or at the
deadline the last failure of each port that never opened.
.TP
Status line
A scan that runs longer than a second, with standard error on a
terminal, shows one line there: ports done of all, open so far, the rate
and the time left, redrawn at most ten times a second and erased before
each report line and at the end.
Never when standard error is not a terminal;
.B \-\-no\-progress
turns it off.
.B \-\-progress
does the same for a transfer: bytes sent and received and the rate (with
a regular file on standard input, also the percentage and the time
left), cleared before the
.B \-vv
summary.
.SH "EXIT STATUS"
.TP
.B 0
At least one port connected (failing ports never reset the status), and
the session then ended for whatever reason: end of file, a reset (except
of a TLS session), the
.B \-w
idle timeout or the
.B \-q
timer.
Also: a listener that finished its session, a
.B \-U
client that connected, a passed descriptor
.RB ( \-F ),
and
.BR \-h ,
.BR \-\-help ,
.BR \-\-version ,
.BR \-\-generate .
.TP
.B 1
A usage, option or conflict error; no port connected; a fatal error, even
after an earlier port succeeded (a failed lookup, or
.B bind failed
on a later port); a
.B \-U
client that could not connect; a TLS session
.RB ( \-c ,
or a
.B \-lc
listener's) that failed after the handshake
.RB ( "tls read failed" ,
.BR "tls write failed" );
a
.B \-\-cert\-warn
scan that found a certificate expiring within its limit or failing its
checks.
.TP
.RI "128 + " n
Killed by signal
.IR n .
On SIGINT and SIGTERM ncrab cleans up first, then dies by the same
signal: the shell shows 130 after Ctrl-C.
.PP
UDP has no handshake: without
.BR \-v ,
a UDP client exits 0 even for a closed port.
With
.BR \-v ,
a port is first probed with X datagrams when
.B \-z
is given or standard input is a terminal (see COMPATIBILITY, 6), and the
status is that of the last port whose probe ran: 1 if it drew an ICMP port
unreachable.
.SH TERMINALS
With
.BR \-\-pty ,
each child of
.B \-\-exec
or
.B \-\-sh\-exec
runs on its own pseudo\-terminal: a new session whose controlling terminal
holds its standard input, output and error, so a shell gives prompts and job
control, ^C interrupts what runs in it and full\-screen programs work. The
window is 24 rows by 80 columns until the client tells its size. The
client's end of stream is typed as the terminal's end\-of\-file character
(^D).
.PP
A client with
.B \-\-raw
on a terminal sends its window size in band: the bytes
.B FF 57
then the rows and the columns, two bytes each, most significant first; a
0xFF byte typed is sent as
.BR "FF FF" .
It opens its stream with its size and sends one more each time the window
changes (SIGWINCH). A
.B \-\-pty
server decodes a stream only if it opens with
.BR "FF 57" ,
so any other client (nc itself) is relayed byte for byte. Typing
.B ~.
at the start of a line leaves;
.B ~~
sends one ~. The terminal's settings are put back however the client ends,
by a signal too.
.PP
.nf
.RS
ncrab \-lk \-\-pty \-\-sh\-exec 'exec bash \-l' 127.0.0.1 2222
ncrab \-\-raw 127.0.0.1 2222
.RE
.fi
.SH ENVIRONMENT
.TP
.B NCRAB_PROXY_PASSWORD
The password for proxy authentication as the user given with
.BR \-P .
When it is set, ncrab uses it instead of asking on the terminal, so
.B \-P
also works where there is none.
Other processes of the same user can read a process's environment: prefer
the prompt where there is a terminal.
.TP
.BR SSL_CERT_FILE ", " SSL_CERT_DIR
The trust anchors of a TLS client
.RB ( \-c )
when
.B \-R
is not given, instead of the system store.
.TP
.B POSIXLY_CORRECT
When set, options end at the first operand, as with any GNU getopt
program:
.B ncrab 192.0.2.7 9 \-v
then takes
.B \-v
for a port and fails with
.BR "port number invalid: \-v" .
.TP
.BR NCRAB_REMOTE_ADDR ", " NCRAB_REMOTE_PORT ", " NCRAB_LOCAL_ADDR ", " NCRAB_LOCAL_PORT ", " NCRAB_PROTO
Set by ncrab for the child of
.B \-\-exec
and
.BR \-\-sh\-exec :
the peer's and the local address and port of its connection, and
.BR TCP .
The same values are also under ncat's names
.RB ( NCAT_REMOTE_ADDR ", ...)."
.SH EXAMPLES
Which of these ports are open, and why are the others not:
.PP
.EX
ncrab \-zv host.example 20\-25 80 443
ncrab \-zvv \-w 2 host.example 443
ncrab \-z \-\-json 192.0.2.7 1\-1024 | grep \-F \(aq"state":"open"\(aq
.EE
.PP
Which hosts of a network answer on SSH or HTTPS, politely:
.PP
.EX
ncrab \-zv \-w auto \-\-rate 500 192.0.2.0/24 22 443
ncrab \-zv \-\-hosts servers.txt 22
.EE
.PP
Wait up to a minute for a database to accept connections:
.PP
.EX
ncrab \-z \-\-wait 60 db 5432 && ./migrate
.EE
.PP
A monitoring check: fail when a certificate of the listed hosts expires
within 21 days or does not verify:
.PP
.EX
ncrab \-zc \-\-cert\-warn 21 \-\-hosts web\-servers.txt 443
.EE
.PP
A throw\-away test listener, and a client that talks to it:
.PP
.EX
ncrab \-lv 8080
ncrab localhost 8080
.EE
.PP
Copy a directory with tar: start the receiver, then the sender.
.B \-N
sends the end of the archive as a FIN, so both sides exit when it is done:
.PP
.EX
ncrab \-l 9000 | tar xf \-
tar cf \- project | ncrab \-N receiver.example 9000
.EE
.PP
An HTTP request by hand:
.PP
.EX
printf \(aqGET / HTTP/1.0\er\en\er\en\(aq | ncrab \-N host.example 80
.EE
.PP
TLS: a verified connection, one pinned by hash, a throw\-away TLS listener
(its
.B \-v
output gives the hash to pin), and a scan that reports certificates:
.PP
.EX
printf \(aqHEAD / HTTP/1.0\er\en\er\en\(aq | ncrab \-c \-N example.org 443
ncrab \-c \-H SHA256:3f1a... 192.0.2.7 8443
ncrab \-lcv 8443
ncrab \-zvvc \-w 3 host.example 443 993 8443
.EE
.PP
STARTTLS: a mail server's submission port, and a scan of the mail ports
that upgrade:
.PP
.EX
ncrab \-c \-\-starttls smtp \-\-starttls\-name client.example mx.example 587
ncrab \-zvc \-\-starttls imap \-w 3 mail.example 143
.EE
.PP
Through a SOCKS5 proxy (the default), and through an HTTP proxy with
CONNECT, as the user alice:
.PP
.EX
ncrab \-x proxy.example:1080 host.example 22
ncrab \-X connect \-x proxy.example:3128 \-P alice host.example 443
.EE
.PP
Reach an SSH server through a proxy: in
.IR ~/.ssh/config ,
.PP
.EX
Host internal.example
    ProxyCommand ncrab \-X connect \-x proxy.example:3128 %h %p
.EE
.PP
Unix-domain sockets: a listener and its client, an abstract socket, and a
request to a local daemon:
.PP
.EX
ncrab \-lU /tmp/demo.sock
ncrab \-U /tmp/demo.sock
ncrab \-lU @demo
printf \(aqGET /version HTTP/1.0\er\en\er\en\(aq | ncrab \-U /run/docker.sock
.EE
.PP
UDP: a listener, a client that sends one line and waits a second for the
answer, a syslog message, and a UDP probe:
.PP
.EX
ncrab \-luv 9999
echo hello | ncrab \-u \-q 1 127.0.0.1 9999
echo \(aq<14>backup done\(aq | ncrab \-u \-w 1 logs.example 514
ncrab \-uzv \-w 1 host.example 53 123
.EE
.PP
Listeners that serve (with
.BR \-k ,
clients at the same time, each with its own child).
An HTTP responder; an echo server; a file server for one client at a
time (a second client while one downloads is refused, with a line under
.BR \-v );
a chat room; a broker that hands standard input to every client:
.PP
.EX
ncrab \-lk 8080 \-\-sh\-exec \(aqprintf "HTTP/1.0 200 OK\er\en\er\enhello\en"\(aq
ncrab \-lk 7000 \-\-exec /bin/cat
ncrab \-lk 9000 \-\-sh\-exec \(aqcat /srv/file.tar\(aq \-\-max\-conns 1
ncrab \-\-chat 4000
tail \-f /var/log/syslog | ncrab \-\-broker \-\-recv\-only 5000
.EE
.PP
Only the local network may connect, everything passing is logged, and
each child knows its client:
.PP
.EX
ncrab \-lkv 7000 \-\-allow 192.168.0.0/16,::1 \-\-deny 192.168.0.66 \e
    \-\-hex\-dump session.hex \-\-sh\-exec \(aqecho hello $NCRAB_REMOTE_ADDR\(aq
.EE
.PP
A TLS echo server with a throw\-away certificate: its
.B \-v
output gives the certificate\(aqs hash
.RB ( "Cert Hash: SHA256:..." ),
which a client pins with
.BR \-H .
Every serving option works over TLS; a client gets its child (or joins a
broker) only once its handshake and the listener\(aqs checks passed, and a
client that has not finished its handshake within
.B \-w
seconds (10 without
.BR \-w )
is closed with one line:
.PP
.EX
ncrab \-lkcv \-\-exec /bin/cat 8443
echo hello | ncrab \-c \-N \-H SHA256:3f1a... 127.0.0.1 8443
.EE
.SH COMPATIBILITY
ncrab is a drop\-in for OpenBSD netcat as Debian ships it (netcat\-openbsd
1.219, the nc most Linux systems have).
It takes the same options and matches nc byte for byte: every message and
the condition that prints it, exit statuses, port lists, option checks,
the order of addresses tried, the EOF rules, listen mode and the proxy
protocols.
Installed as a symlink named
.BR nc ,
it names itself nc in its messages.
.SS "Deliberate departures"
These are nc bugs ncrab does not copy, numbered as in
.I docs/compatibility.md
in ncrab's source, which also lists what ncrab matches and each
extension:
.IP 1. 4
.B \-h
and
.B \-\-help
print ncrab's help on standard output and exit 0; the usage synopsis after
a usage error lists ncrab's options.
.IP 2. 4
A
.B \-lUu
session ends cleanly, with status 0 (nc prints
.B "connect: Invalid argument"
and exits 1).
.IP 3. 4
.B \-i
also delays between the ports of a scan, as its help text says.
.IP 4. 4
ncrab cleans up on every exit path (normal end,
.B \-q
timer, error, Ctrl-C): the temporary directory and socket of
.B \-Uu
and the socket file of a
.B \-lU
listener.
It never deletes anything but a socket:
.B \-lU
.I path
on a regular file or a directory fails with
.IB path ": File exists" .
.IP 5. 4
Data the kernel has already received is never thrown away: after an error
or a reset, the socket is read until the kernel reports the error.
.IP 6. 4
.B \-uv
with a standard input that is not a terminal sends no X probe datagrams
(as OpenBSD does from nc 1.226);
.B \-uz
still probes.
.IP 7. 4
File descriptors 0, 1 and 2 are opened on
.I /dev/null
if they are closed, before any socket is created.
.IP 8. 4
With
.B \-p
and several ports, the later ports are not refused because of TIME_WAIT
(SO_REUSEADDR on the client's bind).
.IP 9. 4
On SIGINT and SIGTERM ncrab cleans up as in 4, restores the terminal and
file status flags it changed, and dies by the same signal.
.IP 10. 4
A TCP connect that ends up connected to itself (the kernel's simultaneous
open, when a scanned port equals the source port) is reported as
.BR "Connection refused" ,
not as an open port.
.IP 11. 4
UDP datagrams are read whole, up to 65535 bytes (nc cuts them at 16384);
those sent from stdin hold at most 16384 bytes, as nc's do.
.IP 12. 4
.B \-C
and
.B \-t
work on the byte stream, not on each read: a CR at the end of one read and
an LF at the start of the next are an existing CRLF, and a telnet command
split across reads is answered once.
.IP 13. 4
A client port list may hold up to 1048576 ports (sixteen full ranges);
past that ncrab fails with
.BI "too many ports: " spec
(nc overflows its 65536-entry list and crashes).
.IP 14. 4
The receiving socket that
.B \-Uu \-s
.I path
creates is removed when ncrab exits (nc leaves it behind).
.IP 15. 4
.B \-Uu \-s
.I path
naming a regular file fails with
.IB path ": File exists"
(nc deletes the file and binds over it).
.PP
TLS follows OpenBSD nc's
.B \-c
(Debian's nc has none), except:
.IP 16. 4
a certificate matching
.B \-H
is accepted even if it does not chain to a trust anchor or carry the name;
.IP 17. 4
X.509 v1 certificates, CA certificates used as the peer's own and names
only in the Common Name are refused, with the fix in the reason;
.IP 18. 4
.B \-N
sends close_notify before shutting the TCP write side;
.IP 19. 4
a TLS listener without
.B \-k
whose client fails exits 1, asks for client certificates only with
.B "\-T clientcert"
or
.BR \-R ,
and a scan reports a port whose TLS fails and goes on.
.SS Extensions
Without these, the output is nc's:
.IP \(bu 2
a long option for every short option
.RB ( \-\-listen ,
.BR \-\-zero\-io ,
.BR \-\-timeout ", ...);"
.IP \(bu 2
concurrent scans
.RB ( \-\-window ),
with nc's report, order and status;
.IP \(bu 2
networks as destinations (CIDR blocks, IPv4 ranges, comma lists,
.BR \-\-hosts ),
.BR "\-w auto" ,
.BR \-\-rate ,
.BR \-\-wait ,
the scan's status line and
.B \-\-progress
(see
.BR "SCANNING NETWORKS" );
.IP \(bu 2
.BR \-vv :
a timing and a diagnosis after each nc line of a scan, and a transfer
summary after a session;
.IP \(bu 2
.BR \-\-json :
one JSON object per probe on standard output;
.IP \(bu 2
SOCKS5 with
.BR \-P :
username/password authentication (RFC 1929) is offered too, and a reply
whose bound address is a domain name is accepted;
.IP \(bu 2
TLS
.RB ( \-c ,
see TLS), with
.B \-\-tls\-cert
for OpenBSD's
.BR \-C ,
and ncat's
.B \-\-ssl
option names;
.IP \(bu 2
listeners that serve, with ncat's option names:
.B \-\-exec
and
.B \-\-sh\-exec
(client and listener; with
.B \-lk
one child per client, many at once,
.BR \-\-max\-conns ),
.B \-\-broker
and
.BR \-\-chat ,
access lists
.RB ( \-\-allow ,
.BR \-\-deny ,
.BR \-\-allowfile ,
.BR \-\-denyfile ),
.B \-\-send\-only
and
.BR \-\-recv\-only ,
and session logs
.RB ( \-\-output ,
.BR \-\-hex\-dump ,
.BR \-\-append\-output ).
Plain
.B \-k
still serves one client after another, as nc;
.IP \(bu 2
.BR NCRAB_PROXY_PASSWORD ,
and
.B \-\-generate
for the manual page and the shell completions.
.SH "SEE ALSO"
.BR nc (1),
.BR socat (1),
.BR ncat (1),
.BR ssh_config (5),
.BR services (5)
"#;

#[cfg(test)]
mod tests {
    use crate::net::diagnose::Code;

    #[test]
    fn every_diagnosis_code_is_in_the_manual() {
        for code in Code::ALL {
            let roff = format!(".B {}\n", code.name().replace('-', "\\-"));
            assert!(
                super::SECTIONS.contains(&roff),
                "the manual's DIAGNOSIS section lacks {}",
                code.name()
            );
        }
    }
}
