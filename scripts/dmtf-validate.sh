#!/usr/bin/env bash
# dmtf-validate.sh: run DMTF's Redfish Service Validator and Redfish Protocol
# Validator against `bmc-agent sim` over TLS: the generated fleet (`generic`)
# and mockup mode on each bundle in simulator/testdata/redfish-mockups. For a
# bundle, DMTF's own Redfish-Mockup-Server serves the same bundle and is
# validated the same way: a failure of the simulator that DMTF's server shows
# too (same assertion and URI, or same URI, property and error) is the
# bundle's, and is reported apart.
#
# The tools are not vendored and CI cannot fetch them: give their checkouts.
#
#   scripts/dmtf-validate.sh --tools DIR [TARGET...]
#
# DIR holds checkouts of DMTF's Redfish-Service-Validator,
# Redfish-Protocol-Validator, python-redfish-library, Redfish-Tacklebox,
# Redfish-Publications and Redfish-Mockup-Server, and mpetazzoni's sseclient,
# each in a folder whose name ends with the repository's name (so
# DIR/Redfish-Publications and DIR/x-Redfish-Publications both work). Each can
# also be given alone: --service-validator, --protocol-validator,
# --redfish-library, --tacklebox, --sseclient, --publications,
# --mockup-server. Their Python dependencies are Debian packages (see
# docs/simulator.md); they run with /usr/bin/python3.
#
# TARGET is `generic` or a bundle name (public-rackmount1, ...); default: all.
# --out DIR keeps the reports (default: a temporary folder, removed). The
# exit status is 0 when no target has a failure of its own.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
tools="" out="" keep=0
declare -A dir=()
names=(Redfish-Service-Validator Redfish-Protocol-Validator python-redfish-library Redfish-Tacklebox sseclient Redfish-Publications Redfish-Mockup-Server)
flags=(--service-validator --protocol-validator --redfish-library --tacklebox --sseclient --publications --mockup-server)
targets=()
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help) usage 0 ;;
	--tools) tools=$2; shift 2 ;;
	--out) out=$2; keep=1; shift 2 ;;
	--*)
		found=0
		for i in "${!flags[@]}"; do
			if [ "$1" = "${flags[$i]}" ]; then dir[${names[$i]}]=$2; found=1; fi
		done
		[ $found = 1 ] || { echo "unknown option $1" >&2; usage; }
		shift 2 ;;
	*) targets+=("$1"); shift ;;
	esac
done
for n in "${names[@]}"; do
	if [ -z "${dir[$n]:-}" ] && [ -n "$tools" ]; then
		for d in "$tools/$n" "$tools"/*"$n"; do
			[ -d "$d" ] && { dir[$n]=$d; break; }
		done
	fi
	[ -n "${dir[$n]:-}" ] && [ -d "${dir[$n]}" ] || { echo "no checkout of $n (use --tools or its own flag)" >&2; exit 2; }
done
mockups=$repo/simulator/testdata/redfish-mockups
if [ ${#targets[@]} -eq 0 ]; then
	targets=(generic)
	for b in "$mockups"/*/; do [ -f "$b/index.json" ] && targets+=("$(basename "$b")"); done
fi

py=/usr/bin/python3
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
[ -n "$out" ] || out=$tmp/out
mkdir -p "$out"

# The Protocol Validator imports only Enum and auto from PyPI's aenum; the
# mockup server imports grequests only to send events, which no test here
# subscribes to.
mkdir -p "$tmp/py"
echo 'from enum import Enum, auto' >"$tmp/py/aenum.py"
printf 'def post(*a, **k):\n    return None\n\n\ndef map(*a, **k):\n    return []\n' >"$tmp/py/grequests.py"
export PYTHONPATH=$tmp/py:${dir[python-redfish-library]}/src:${dir[Redfish-Tacklebox]}:${dir[sseclient]}:${dir[Redfish-Protocol-Validator]}:${dir[Redfish-Service-Validator]}
# requests lets these override a session's own CA bundle: unset them so
# that --ca-bundle is what the validators trust.
unset REQUESTS_CA_BUNDLE CURL_CA_BUNDLE

# One certificate for every server, trusted by the Protocol Validator.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null

(cd "$repo" && go build -o "$tmp/bmc-agent" ./cmd/bmc-agent)

freeport() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
waitup() {
	for _ in $(seq 100); do
		curl -sk -o /dev/null "https://127.0.0.1:$1/redfish/v1/" && return 0
		sleep 0.1
	done
	echo "server on port $1 did not start" >&2
	return 1
}

# validate NAME URL: both validators against URL; reports under $out/NAME,
# failure keys in $out/NAME/fails.
validate() {
	local o=$out/$1 url=$2
	mkdir -p "$o"
	(cd "$o" && $py "${dir[Redfish-Protocol-Validator]}/rf_protocol_validator.py" -r "$url" -u admin -p password \
		--ca-bundle "$tmp/cert.pem" --report-dir "$o/protocol" --report-type tsv >"$o/protocol.out" 2>&1) || true
	(cd "$o" && $py "${dir[Redfish-Service-Validator]}/RedfishServiceValidator.py" -r "$url" -u admin -p password \
		--schema_directory "${dir[Redfish-Publications]}/csdl" --skipschema --logdir "$o/service" >"$o/service.out" 2>&1) || true
	$py - "$o" <<'EOF'
import glob, re, sys
o = sys.argv[1]
keys = []
for f in glob.glob(o + "/protocol/*.tsv"):
    for line in open(f):
        c = line.rstrip("\n").split("\t")
        if len(c) > 5 and c[4] == "FAIL":
            keys.append("protocol\t%s %s %s\t%s" % (c[0], c[1], c[3], c[5]))
for f in glob.glob(o + "/service/*/RedfishServiceValidatorDebug*.log"):
    uri = ""
    for line in open(f):
        m = re.search(r" - Validating (\S+)\.\.\.$", line)
        if m:
            uri = m.group(1)
        m = re.search(r" - ERROR - FAIL - (.*)$", line)
        if m:
            msg = m.group(1)
            prop = re.match(r"(/\S*) \(", msg)
            kind = re.search(r"(\w[\w ]* Error):", msg)
            keys.append("service\t%s %s %s\t%s" % (uri, prop.group(1) if prop else "", kind.group(1) if kind else "", msg))
open(o + "/fails", "w").write("".join(k + "\n" for k in keys))
EOF
	echo "$1: Protocol Validator: $(grep -h '^Summary' "$o/protocol.out" || echo 'no summary')"
	echo "$1: Service Validator: $(grep -A2 'PASS.*WARN.*FAIL' "$o/service.out" | tail -1 | tr -s ' |' ' ' || echo 'no summary')"
}

status=0
results=$out/results.txt
: >"$results"
for t in "${targets[@]}"; do
	port=$(freeport)
	args=(--systems 2)
	if [ "$t" != generic ]; then args=(--mockup "$mockups/$t"); fi
	"$tmp/bmc-agent" sim --listen "127.0.0.1:$port" "${args[@]}" --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" \
		>"$tmp/sim-$t.log" 2>&1 &
	pids+=($!)
	waitup "$port"
	validate "$t" "https://127.0.0.1:$port" | tee -a "$results"
	kill "${pids[-1]}"
	own=$out/$t/fails
	if [ "$t" != generic ]; then
		dport=$(freeport)
		(cd "$tmp" && exec $py "${dir[Redfish-Mockup-Server]}/redfishMockupServer.py" -H 127.0.0.1 -p "$dport" -S -D "$mockups/$t" \
			-s --cert "$tmp/cert.pem" --key "$tmp/key.pem" >"$tmp/dmtf-$t.log" 2>&1) &
		pids+=($!)
		waitup "$dport"
		validate "dmtf-$t" "https://127.0.0.1:$dport" | tee -a "$results"
		kill "${pids[-1]}"
		cut -f1,2 "$out/dmtf-$t/fails" | sort -u >"$tmp/dmtf-keys"
		awk -F'\t' 'NR==FNR { k[$0]; next } !(($1 FS $2) in k)' "$tmp/dmtf-keys" "$out/$t/fails" >"$out/$t/own-fails"
		awk -F'\t' 'NR==FNR { k[$0]; next } (($1 FS $2) in k)' "$tmp/dmtf-keys" "$out/$t/fails" >"$out/$t/shared-fails"
		echo "$t: $(wc -l <"$out/$t/shared-fails") failures DMTF's Redfish-Mockup-Server shows too" | tee -a "$results"
		sed 's/^/    /' "$out/$t/shared-fails" | cut -c1-220 | tee -a "$results"
		own=$out/$t/own-fails
	fi
	n=$(wc -l <"$own")
	echo "$t: $n failures of the simulator's own" | tee -a "$results"
	sed 's/^/    /' "$own" | cut -c1-220 | tee -a "$results"
	[ "$n" -eq 0 ] || status=1
done
if [ $keep = 1 ]; then echo "reports in $out"; fi
exit $status
