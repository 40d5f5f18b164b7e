#!/usr/bin/env bash
# bench/anchor-backfill.sh [RATE=100] [M=10000]: a syncer backfill of seven resources x M objects
# served 100 a page by the anchor harness's fakelist (../shared/anchor-bench, set up with its
# setup.sh: PostgreSQL cluster and stripe-mock), through nats-server and the processor into a
# fresh database of that cluster; prints the time to publish and to land every row, beside the
# ceiling of RATE requests/s x 100 objects. Needs make build and make nats-server.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ANCHOR=${ANCHOR:-$ROOT/../shared/anchor-bench}
source "$ANCHOR/env.sh"
BIN=$ROOT/bin; RATE=${1:-100}; M=${2:-10000}
[ -x "$BENCH_DIR/bin/fakelist" ] || (cd "$ANCHOR/fakelist" && go build -o "$BENCH_DIR/bin/fakelist" .)
# stripe-mock's one connected account: listing it alone lists every object once (fakelist ignores
# Stripe-Account), where the platform and the account would list them twice.
ACCT=$(curl -fsS -H "Authorization: Bearer sk_test_123" "$STRIPE_MOCK_URL/v1/accounts" | python3 -c "import json,sys; print(json.load(sys.stdin)[\"data\"][0][\"id\"])")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
FL_PORT=$(free_port); NATS_PORT=$(free_port); PROC_PORT=$(free_port)
W=$(mktemp -d) # logs and the JetStream store
P0="psql -h 127.0.0.1 -p $PGPORT -U postgres -X -q -At"
$P0 -d postgres -c "drop database if exists bfill" -c "create database bfill" >/dev/null 2>&1
DBURL="postgres://postgres@127.0.0.1:$PGPORT/bfill?sslmode=disable"
$BENCH_DIR/bin/fakelist -port $FL_PORT -mock $STRIPE_MOCK_URL -key sk_test_123 -m $M -days 100 > $W/fakelist.log 2>&1 & FPID=$!
$BIN/nats-server -a 127.0.0.1 -p $NATS_PORT -js -sd $W/nats > $W/nats.log 2>&1 & NPID=$!
sleep 1
env -i PATH=$PATH HOME=/tmp NATS_URL=nats://127.0.0.1:$NATS_PORT DATABASE_URL=$DBURL PROCESSOR_ADDR=127.0.0.1:$PROC_PORT $BIN/processor > $W/processor.log 2>&1 & PPID2=$!
trap 'kill $PPID2 $NPID $FPID 2>/dev/null; wait 2>/dev/null; echo "logs: $W"' EXIT
for i in $(seq 100); do curl -fsS -o /dev/null http://127.0.0.1:$PROC_PORT/readyz 2>/dev/null && break; sleep 0.1; done
for i in $(seq 100); do curl -fsS -o /dev/null http://127.0.0.1:$FL_PORT/v1/customers?limit=1 -H "Authorization: Bearer sk_test_123" 2>/dev/null && break; sleep 0.2; done
T="customers products prices invoices subscriptions charges payment_intents"
count() { local n=0 r; for t in $T; do r=$($P0 -d bfill -c "select count(*) from stripe.$t where id ~ '^[a-z]+_[0-9a-zA-Z]*'" ); n=$((n+r)); done; echo $n; }
start=$(date +%s.%N)
env -i PATH=$PATH HOME=/tmp NATS_URL=nats://127.0.0.1:$NATS_PORT STRIPE_API_KEY=sk_test_123 STRIPE_API_BASE=http://127.0.0.1:$FL_PORT SYNCER_RATE_LIMIT=$RATE SYNCER_ENDPOINT_RATE_LIMIT=25 \
  $BIN/syncer backfill -account $ACCT -resources customer,product,price,invoice,subscription,charge,payment_intent > $W/syncer.log 2>&1
pub=$(date +%s.%N)
want=$((7*M))
while :; do n=$(count); [ "$n" -ge "$want" ] && break; sleep 0.2; done
end=$(date +%s.%N)
python3 -c "
s,p,e=$start,$pub,$end; n=$want
print(f'published in {p-s:.1f}s ({n/(p-s):.0f}/s), landed in {e-s:.1f}s ({n/(e-s):.0f} objects/s; ceiling {$RATE*100}/s: {100*n/(e-s)/($RATE*100):.0f}%)')"
grep -o '"requests":[0-9]*' $W/syncer.log | tail -1
curl -fsS http://127.0.0.1:$FL_PORT/_stats; echo
