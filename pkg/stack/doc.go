// Package stack runs the parts of stripesync as real processes on this
// machine, for the suites that drive them from outside (make prove, and the
// benchmarks): programs with their output in a log file and their peak
// memory measured, a JetStream cluster of nats-server processes, and a
// PostgreSQL cluster of its own made with the local initdb and pg_ctl. Every
// server listens on a free loopback port, so that it never meets another
// program on the machine. It uses the standard library only, so that any
// module of the workspace can import it.
package stack
