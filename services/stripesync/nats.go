package stripesync

import "time"

// natsWait is how long a command that needs NATS (replay, rebuild) waits
// for it before failing, naming the address.
const natsWait = 10 * time.Second
