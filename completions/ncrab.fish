complete -c ncrab -s I -l recv-buf -d 'TCP receive buffer length' -r
complete -c ncrab -s i -l interval -d 'Delay interval for lines sent, ports scanned' -r
complete -c ncrab -s M -l ttl -d 'Outgoing TTL / Hop Limit' -r
complete -c ncrab -s m -l min-ttl -d 'Minimum incoming TTL / Hop Limit' -r
complete -c ncrab -s O -l send-buf -d 'TCP send buffer length' -r
complete -c ncrab -s P -l proxy-user -d 'Username for proxy authentication' -r
complete -c ncrab -s p -l source-port -d 'Specify local port for remote connects' -r
complete -c ncrab -s q -l quit -d 'quit after EOF on stdin and delay of secs' -r
complete -c ncrab -s s -l source -d 'Local source address' -r
complete -c ncrab -s T -l tos -d 'TOS value or TLS options' -r -f -a "af11\t''
af12\t''
af13\t''
af21\t''
af22\t''
af23\t''
af31\t''
af32\t''
af33\t''
af41\t''
af42\t''
af43\t''
critical\t''
cs0\t''
cs1\t''
cs2\t''
cs3\t''
cs4\t''
cs5\t''
cs6\t''
cs7\t''
ef\t''
inetcontrol\t''
lowcost\t''
lowdelay\t''
netcontrol\t''
reliability\t''
throughput\t''"
complete -c ncrab -s V -l rtable -d 'Specify alternate routing table' -r
complete -c ncrab -s W -l recv-limit -d 'Terminate after receiving a number of packets' -r
complete -c ncrab -s w -l timeout -d 'Timeout for connects and final net reads' -r
complete -c ncrab -s X -l proxy-type -d 'Proxy protocol: "4", "5" (SOCKS) or "connect"' -r -f -a "4\t''
5\t''
connect\t''"
complete -c ncrab -s x -l proxy -d 'Specify proxy address and port' -r
complete -c ncrab -l tls-cert -l ssl-cert -d 'TLS certificate chain (PEM)' -r
complete -c ncrab -s K -l tls-key -l ssl-key -d 'TLS private key (PEM)' -r
complete -c ncrab -s R -l tls-ca -l ssl-trustfile -d 'TLS trust anchors (PEM)' -r
complete -c ncrab -s e -l tls-name -l ssl-servername -d 'Required name in peer certificate' -r
complete -c ncrab -s H -l tls-pin -d 'Hash string of peer certificate' -r
complete -c ncrab -s o -l tls-staple -d 'OCSP response to staple' -r
complete -c ncrab -l tls-alpn -l ssl-alpn -d 'TLS ALPN protocols, comma-separated' -r
complete -c ncrab -l starttls -d 'With -c, speak proto\'s plaintext preamble, then TLS on the same connection' -r -f -a "smtp\t''
lmtp\t''
pop3\t''
imap\t''
ftp\t''
xmpp\t''
xmpp-server\t''
irc\t''
postgres\t''
mysql\t''
nntp\t''
sieve\t''
ldap\t''"
complete -c ncrab -l starttls-name -d 'The EHLO/LHLO name or XMPP domain of --starttls' -r
complete -c ncrab -l window -d 'Probes in flight at once during a scan' -r
complete -c ncrab -l hosts -d 'Scan the hosts listed in file (- for stdin)' -r
complete -c ncrab -l rate -d 'Start at most count connects per second during a scan' -r
complete -c ncrab -l wait -d 'With -z, retry each port until it accepts, for up to seconds' -r
complete -c ncrab -l banner -d 'With -z: report what an open port\'s server says first' -r
complete -c ncrab -l cert-warn -d 'With -zc, fail ports whose certificate expires within days or does not verify' -r
complete -c ncrab -l exec -d 'Serve each connection with a program (split on spaces, no shell)' -r
complete -c ncrab -l sh-exec -d 'Serve each connection with a /bin/sh -c command' -r
complete -c ncrab -l max-conns -d 'Most connections served at once (default 100)' -r
complete -c ncrab -l allow -d 'Accept connections only from these hosts' -r
complete -c ncrab -l allowfile -d 'Read --allow entries from a file' -r
complete -c ncrab -l deny -d 'Refuse connections from these hosts' -r
complete -c ncrab -l denyfile -d 'Read --deny entries from a file' -r
complete -c ncrab -l output -d 'Write everything sent and received to a file' -r
complete -c ncrab -l hex-dump -d 'Write a hex dump of everything sent and received to a file' -r
complete -c ncrab -l generate -d 'Print the manual page or a shell\'s completion script' -r -f -a "man\t''
bash\t''
zsh\t''
fish\t''
elvish\t''
powershell\t''"
complete -c ncrab -s 4 -l ipv4 -d 'Use IPv4 addresses only'
complete -c ncrab -s 6 -l ipv6 -d 'Use IPv6 addresses only'
complete -c ncrab -s b -l broadcast -d 'Allow broadcast'
complete -c ncrab -s C -l crlf -d 'Send CRLF as line-ending'
complete -c ncrab -s D -l debug -d 'Enable the debug socket option'
complete -c ncrab -s d -l detach -d 'Detach from stdin'
complete -c ncrab -s F -l pass-fd -d 'Pass socket fd'
complete -c ncrab -s h -l help -d 'This help text'
complete -c ncrab -s k -l keep-open -d 'Keep inbound sockets open for multiple connects'
complete -c ncrab -s l -l listen -d 'Listen mode, for inbound connects'
complete -c ncrab -s N -l shutdown -d 'Shutdown the network socket after EOF on stdin'
complete -c ncrab -s n -l numeric -d 'Suppress name/port resolutions'
complete -c ncrab -s r -l randomize -d 'Randomize remote ports'
complete -c ncrab -s S -l md5sig -d 'Enable the TCP MD5 signature option'
complete -c ncrab -s t -l telnet -d 'Answer TELNET negotiation'
complete -c ncrab -s U -l unix -d 'Use UNIX domain socket'
complete -c ncrab -s u -l udp -d 'UDP mode'
complete -c ncrab -s v -l verbose -d 'Verbose'
complete -c ncrab -s Z -l dccp -d 'DCCP mode'
complete -c ncrab -s z -l zero-io -d 'Zero-I/O mode [used for scanning]'
complete -c ncrab -s c -l tls -l ssl -d 'Use TLS'
complete -c ncrab -l json -d 'Print one JSON object per probe on stdout'
complete -c ncrab -l progress -d 'Show a transfer\'s progress on stderr'
complete -c ncrab -l no-progress -d 'No scan status line on a terminal'
complete -c ncrab -l pty -d 'With --exec/--sh-exec: run each child on a pseudo-terminal'
complete -c ncrab -l raw -d 'Client on a terminal: raw mode, ~. to leave, sizes to a --pty server'
complete -c ncrab -l broker -d 'Relay what each client sends to all the others'
complete -c ncrab -l chat -d 'A broker for people: a chat room'
complete -c ncrab -l send-only -d 'Only send: discard what arrives, end after stdin\'s EOF'
complete -c ncrab -l recv-only -d 'Only receive: never read stdin'
complete -c ncrab -l append-output -d 'Append to the --output and --hex-dump files'
complete -c ncrab -l version -d 'Print the version and exit'
