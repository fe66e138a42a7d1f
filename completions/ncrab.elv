
use builtin;
use str;

set edit:completion:arg-completer[ncrab] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'ncrab'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'ncrab'= {
            cand -I 'TCP receive buffer length'
            cand --recv-buf 'TCP receive buffer length'
            cand -i 'Delay interval for lines sent, ports scanned'
            cand --interval 'Delay interval for lines sent, ports scanned'
            cand -M 'Outgoing TTL / Hop Limit'
            cand --ttl 'Outgoing TTL / Hop Limit'
            cand -m 'Minimum incoming TTL / Hop Limit'
            cand --min-ttl 'Minimum incoming TTL / Hop Limit'
            cand -O 'TCP send buffer length'
            cand --send-buf 'TCP send buffer length'
            cand -P 'Username for proxy authentication'
            cand --proxy-user 'Username for proxy authentication'
            cand -p 'Specify local port for remote connects'
            cand --source-port 'Specify local port for remote connects'
            cand -q 'quit after EOF on stdin and delay of secs'
            cand --quit 'quit after EOF on stdin and delay of secs'
            cand -s 'Local source address'
            cand --source 'Local source address'
            cand -T 'TOS value'
            cand --tos 'TOS value'
            cand -V 'Specify alternate routing table'
            cand --rtable 'Specify alternate routing table'
            cand -W 'Terminate after receiving a number of packets'
            cand --recv-limit 'Terminate after receiving a number of packets'
            cand -w 'Timeout for connects and final net reads'
            cand --wait 'Timeout for connects and final net reads'
            cand -X 'Proxy protocol: "4", "5" (SOCKS) or "connect"'
            cand --proxy-type 'Proxy protocol: "4", "5" (SOCKS) or "connect"'
            cand -x 'Specify proxy address and port'
            cand --proxy 'Specify proxy address and port'
            cand --window 'Probes in flight at once during a scan'
            cand --banner 'With -z: report what an open port''s server says first'
            cand --exec 'Serve each connection with a program (split on spaces, no shell)'
            cand --sh-exec 'Serve each connection with a /bin/sh -c command'
            cand --max-conns 'Most connections served at once (default 100)'
            cand --allow 'Accept connections only from these hosts'
            cand --allowfile 'Read --allow entries from a file'
            cand --deny 'Refuse connections from these hosts'
            cand --denyfile 'Read --deny entries from a file'
            cand --output 'Write everything sent and received to a file'
            cand --hex-dump 'Write a hex dump of everything sent and received to a file'
            cand --generate 'Print the manual page or a shell''s completion script'
            cand -4 'Use IPv4 addresses only'
            cand --ipv4 'Use IPv4 addresses only'
            cand -6 'Use IPv6 addresses only'
            cand --ipv6 'Use IPv6 addresses only'
            cand -b 'Allow broadcast'
            cand --broadcast 'Allow broadcast'
            cand -C 'Send CRLF as line-ending'
            cand --crlf 'Send CRLF as line-ending'
            cand -D 'Enable the debug socket option'
            cand --debug 'Enable the debug socket option'
            cand -d 'Detach from stdin'
            cand --detach 'Detach from stdin'
            cand -F 'Pass socket fd'
            cand --pass-fd 'Pass socket fd'
            cand -h 'This help text'
            cand --help 'This help text'
            cand -k 'Keep inbound sockets open for multiple connects'
            cand --keep-open 'Keep inbound sockets open for multiple connects'
            cand -l 'Listen mode, for inbound connects'
            cand --listen 'Listen mode, for inbound connects'
            cand -N 'Shutdown the network socket after EOF on stdin'
            cand --shutdown 'Shutdown the network socket after EOF on stdin'
            cand -n 'Suppress name/port resolutions'
            cand --numeric 'Suppress name/port resolutions'
            cand -r 'Randomize remote ports'
            cand --randomize 'Randomize remote ports'
            cand -S 'Enable the TCP MD5 signature option'
            cand --md5sig 'Enable the TCP MD5 signature option'
            cand -t 'Answer TELNET negotiation'
            cand --telnet 'Answer TELNET negotiation'
            cand -U 'Use UNIX domain socket'
            cand --unix 'Use UNIX domain socket'
            cand -u 'UDP mode'
            cand --udp 'UDP mode'
            cand -v 'Verbose'
            cand --verbose 'Verbose'
            cand -Z 'DCCP mode'
            cand --dccp 'DCCP mode'
            cand -z 'Zero-I/O mode [used for scanning]'
            cand --zero-io 'Zero-I/O mode [used for scanning]'
            cand --json 'Print one JSON object per probe on stdout'
            cand --broker 'Relay what each client sends to all the others'
            cand --chat 'A broker for people: a chat room'
            cand --send-only 'Only send: discard what arrives, end after stdin''s EOF'
            cand --recv-only 'Only receive: never read stdin'
            cand --append-output 'Append to the --output and --hex-dump files'
            cand --version 'Print the version and exit'
        }
    ]
    $completions[$command]
}
