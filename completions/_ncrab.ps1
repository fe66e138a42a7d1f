
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'ncrab' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'ncrab'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'ncrab' {
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'TCP receive buffer length')
            [CompletionResult]::new('--recv-buf', '--recv-buf', [CompletionResultType]::ParameterName, 'TCP receive buffer length')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Delay interval for lines sent, ports scanned')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'Delay interval for lines sent, ports scanned')
            [CompletionResult]::new('-M', '-M ', [CompletionResultType]::ParameterName, 'Outgoing TTL / Hop Limit')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'Outgoing TTL / Hop Limit')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Minimum incoming TTL / Hop Limit')
            [CompletionResult]::new('--min-ttl', '--min-ttl', [CompletionResultType]::ParameterName, 'Minimum incoming TTL / Hop Limit')
            [CompletionResult]::new('-O', '-O ', [CompletionResultType]::ParameterName, 'TCP send buffer length')
            [CompletionResult]::new('--send-buf', '--send-buf', [CompletionResultType]::ParameterName, 'TCP send buffer length')
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'Username for proxy authentication')
            [CompletionResult]::new('--proxy-user', '--proxy-user', [CompletionResultType]::ParameterName, 'Username for proxy authentication')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Specify local port for remote connects')
            [CompletionResult]::new('--source-port', '--source-port', [CompletionResultType]::ParameterName, 'Specify local port for remote connects')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'quit after EOF on stdin and delay of secs')
            [CompletionResult]::new('--quit', '--quit', [CompletionResultType]::ParameterName, 'quit after EOF on stdin and delay of secs')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Local source address')
            [CompletionResult]::new('--source', '--source', [CompletionResultType]::ParameterName, 'Local source address')
            [CompletionResult]::new('-T', '-T ', [CompletionResultType]::ParameterName, 'TOS value or TLS options')
            [CompletionResult]::new('--tos', '--tos', [CompletionResultType]::ParameterName, 'TOS value or TLS options')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Specify alternate routing table')
            [CompletionResult]::new('--rtable', '--rtable', [CompletionResultType]::ParameterName, 'Specify alternate routing table')
            [CompletionResult]::new('-W', '-W ', [CompletionResultType]::ParameterName, 'Terminate after receiving a number of packets')
            [CompletionResult]::new('--recv-limit', '--recv-limit', [CompletionResultType]::ParameterName, 'Terminate after receiving a number of packets')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Timeout for connects and final net reads')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Timeout for connects and final net reads')
            [CompletionResult]::new('-X', '-X ', [CompletionResultType]::ParameterName, 'Proxy protocol: "4", "5" (SOCKS) or "connect"')
            [CompletionResult]::new('--proxy-type', '--proxy-type', [CompletionResultType]::ParameterName, 'Proxy protocol: "4", "5" (SOCKS) or "connect"')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'Specify proxy address and port')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Specify proxy address and port')
            [CompletionResult]::new('--tls-cert', '--tls-cert', [CompletionResultType]::ParameterName, 'TLS certificate chain (PEM)')
            [CompletionResult]::new('--ssl-cert', '--ssl-cert', [CompletionResultType]::ParameterName, 'TLS certificate chain (PEM)')
            [CompletionResult]::new('-K', '-K ', [CompletionResultType]::ParameterName, 'TLS private key (PEM)')
            [CompletionResult]::new('--tls-key', '--tls-key', [CompletionResultType]::ParameterName, 'TLS private key (PEM)')
            [CompletionResult]::new('--ssl-key', '--ssl-key', [CompletionResultType]::ParameterName, 'TLS private key (PEM)')
            [CompletionResult]::new('-R', '-R ', [CompletionResultType]::ParameterName, 'TLS trust anchors (PEM)')
            [CompletionResult]::new('--tls-ca', '--tls-ca', [CompletionResultType]::ParameterName, 'TLS trust anchors (PEM)')
            [CompletionResult]::new('--ssl-trustfile', '--ssl-trustfile', [CompletionResultType]::ParameterName, 'TLS trust anchors (PEM)')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Required name in peer certificate')
            [CompletionResult]::new('--tls-name', '--tls-name', [CompletionResultType]::ParameterName, 'Required name in peer certificate')
            [CompletionResult]::new('--ssl-servername', '--ssl-servername', [CompletionResultType]::ParameterName, 'Required name in peer certificate')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Hash string of peer certificate')
            [CompletionResult]::new('--tls-pin', '--tls-pin', [CompletionResultType]::ParameterName, 'Hash string of peer certificate')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'OCSP response to staple')
            [CompletionResult]::new('--tls-staple', '--tls-staple', [CompletionResultType]::ParameterName, 'OCSP response to staple')
            [CompletionResult]::new('--tls-alpn', '--tls-alpn', [CompletionResultType]::ParameterName, 'TLS ALPN protocols, comma-separated')
            [CompletionResult]::new('--ssl-alpn', '--ssl-alpn', [CompletionResultType]::ParameterName, 'TLS ALPN protocols, comma-separated')
            [CompletionResult]::new('--window', '--window', [CompletionResultType]::ParameterName, 'Probes in flight at once during a scan')
            [CompletionResult]::new('--hosts', '--hosts', [CompletionResultType]::ParameterName, 'Scan the hosts listed in file (- for stdin)')
            [CompletionResult]::new('--rate', '--rate', [CompletionResultType]::ParameterName, 'Start at most count connects per second during a scan')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'With -z, retry each port until it accepts, for up to seconds')
            [CompletionResult]::new('--banner', '--banner', [CompletionResultType]::ParameterName, 'With -z: report what an open port''s server says first')
            [CompletionResult]::new('--exec', '--exec', [CompletionResultType]::ParameterName, 'Serve each connection with a program (split on spaces, no shell)')
            [CompletionResult]::new('--sh-exec', '--sh-exec', [CompletionResultType]::ParameterName, 'Serve each connection with a /bin/sh -c command')
            [CompletionResult]::new('--max-conns', '--max-conns', [CompletionResultType]::ParameterName, 'Most connections served at once (default 100)')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'Accept connections only from these hosts')
            [CompletionResult]::new('--allowfile', '--allowfile', [CompletionResultType]::ParameterName, 'Read --allow entries from a file')
            [CompletionResult]::new('--deny', '--deny', [CompletionResultType]::ParameterName, 'Refuse connections from these hosts')
            [CompletionResult]::new('--denyfile', '--denyfile', [CompletionResultType]::ParameterName, 'Read --deny entries from a file')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write everything sent and received to a file')
            [CompletionResult]::new('--hex-dump', '--hex-dump', [CompletionResultType]::ParameterName, 'Write a hex dump of everything sent and received to a file')
            [CompletionResult]::new('--generate', '--generate', [CompletionResultType]::ParameterName, 'Print the manual page or a shell''s completion script')
            [CompletionResult]::new('-4', '-4', [CompletionResultType]::ParameterName, 'Use IPv4 addresses only')
            [CompletionResult]::new('--ipv4', '--ipv4', [CompletionResultType]::ParameterName, 'Use IPv4 addresses only')
            [CompletionResult]::new('-6', '-6', [CompletionResultType]::ParameterName, 'Use IPv6 addresses only')
            [CompletionResult]::new('--ipv6', '--ipv6', [CompletionResultType]::ParameterName, 'Use IPv6 addresses only')
            [CompletionResult]::new('-b', '-b', [CompletionResultType]::ParameterName, 'Allow broadcast')
            [CompletionResult]::new('--broadcast', '--broadcast', [CompletionResultType]::ParameterName, 'Allow broadcast')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Send CRLF as line-ending')
            [CompletionResult]::new('--crlf', '--crlf', [CompletionResultType]::ParameterName, 'Send CRLF as line-ending')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'Enable the debug socket option')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Enable the debug socket option')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Detach from stdin')
            [CompletionResult]::new('--detach', '--detach', [CompletionResultType]::ParameterName, 'Detach from stdin')
            [CompletionResult]::new('-F', '-F ', [CompletionResultType]::ParameterName, 'Pass socket fd')
            [CompletionResult]::new('--pass-fd', '--pass-fd', [CompletionResultType]::ParameterName, 'Pass socket fd')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'This help text')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'This help text')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Keep inbound sockets open for multiple connects')
            [CompletionResult]::new('--keep-open', '--keep-open', [CompletionResultType]::ParameterName, 'Keep inbound sockets open for multiple connects')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Listen mode, for inbound connects')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Listen mode, for inbound connects')
            [CompletionResult]::new('-N', '-N ', [CompletionResultType]::ParameterName, 'Shutdown the network socket after EOF on stdin')
            [CompletionResult]::new('--shutdown', '--shutdown', [CompletionResultType]::ParameterName, 'Shutdown the network socket after EOF on stdin')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Suppress name/port resolutions')
            [CompletionResult]::new('--numeric', '--numeric', [CompletionResultType]::ParameterName, 'Suppress name/port resolutions')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Randomize remote ports')
            [CompletionResult]::new('--randomize', '--randomize', [CompletionResultType]::ParameterName, 'Randomize remote ports')
            [CompletionResult]::new('-S', '-S ', [CompletionResultType]::ParameterName, 'Enable the TCP MD5 signature option')
            [CompletionResult]::new('--md5sig', '--md5sig', [CompletionResultType]::ParameterName, 'Enable the TCP MD5 signature option')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Answer TELNET negotiation')
            [CompletionResult]::new('--telnet', '--telnet', [CompletionResultType]::ParameterName, 'Answer TELNET negotiation')
            [CompletionResult]::new('-U', '-U ', [CompletionResultType]::ParameterName, 'Use UNIX domain socket')
            [CompletionResult]::new('--unix', '--unix', [CompletionResultType]::ParameterName, 'Use UNIX domain socket')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'UDP mode')
            [CompletionResult]::new('--udp', '--udp', [CompletionResultType]::ParameterName, 'UDP mode')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Verbose')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Verbose')
            [CompletionResult]::new('-Z', '-Z ', [CompletionResultType]::ParameterName, 'DCCP mode')
            [CompletionResult]::new('--dccp', '--dccp', [CompletionResultType]::ParameterName, 'DCCP mode')
            [CompletionResult]::new('-z', '-z', [CompletionResultType]::ParameterName, 'Zero-I/O mode [used for scanning]')
            [CompletionResult]::new('--zero-io', '--zero-io', [CompletionResultType]::ParameterName, 'Zero-I/O mode [used for scanning]')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Use TLS')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Use TLS')
            [CompletionResult]::new('--ssl', '--ssl', [CompletionResultType]::ParameterName, 'Use TLS')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object per probe on stdout')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show a transfer''s progress on stderr')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'No scan status line on a terminal')
            [CompletionResult]::new('--broker', '--broker', [CompletionResultType]::ParameterName, 'Relay what each client sends to all the others')
            [CompletionResult]::new('--chat', '--chat', [CompletionResultType]::ParameterName, 'A broker for people: a chat room')
            [CompletionResult]::new('--send-only', '--send-only', [CompletionResultType]::ParameterName, 'Only send: discard what arrives, end after stdin''s EOF')
            [CompletionResult]::new('--recv-only', '--recv-only', [CompletionResultType]::ParameterName, 'Only receive: never read stdin')
            [CompletionResult]::new('--append-output', '--append-output', [CompletionResultType]::ParameterName, 'Append to the --output and --hex-dump files')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print the version and exit')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
