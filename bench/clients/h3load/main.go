// h3load: an HTTP/3 load generator on quic-go, for the benchmark's h3 scenarios (curl and h2load here have no
// HTTP/3).
//
//	h3load -url https://127.0.0.1:PORT/PATH [-c connections] [-m streams] [-d seconds] [-w seconds]
//
// Opens c QUIC connections (one http3.RoundTripper each) and keeps m requests in flight on each (m goroutines per
// connection, one request after the other) for the warm-up and then the timed run. It prints "start" on stdout when
// the timed run begins and, when it ends, "result " and a JSON object: the requests answered 200 in the timed run,
// the body bytes received in it (counted as they arrive, finished responses or not), the errors (transport errors and other statuses), the timed seconds and the CPU seconds this
// process used meanwhile (user + system), so the harness can tell whether the load generator kept up.
package main

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lucas-clemente/quic-go"
	"github.com/lucas-clemente/quic-go/http3"
)

type counters struct {
	requests int64
	bytes    int64
	errors   int64
}

func (c *counters) snapshot() counters {
	return counters{atomic.LoadInt64(&c.requests), atomic.LoadInt64(&c.bytes), atomic.LoadInt64(&c.errors)}
}

func cpuSeconds() float64 {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return float64(usage.Utime.Nano()+usage.Stime.Nano()) / 1e9
}

func main() {
	url := flag.String("url", "", "https:// URL to GET")
	connections := flag.Int("c", 1, "QUIC connections")
	streams := flag.Int("m", 1, "requests in flight per connection")
	duration := flag.Float64("d", 1.5, "timed run, seconds")
	warmup := flag.Float64("w", 0.5, "warm-up before the timed run, seconds")
	flag.Parse()
	if *url == "" || *connections < 1 || *streams < 1 || *duration <= 0 || *warmup < 0 {
		fmt.Fprintln(os.Stderr, "h3load: -url is required; -c, -m and -d must be positive")
		os.Exit(2)
	}

	// Certificates are the run's own self-signed ones; the handshake is measured by other scenarios.
	tlsConfig := &tls.Config{InsecureSkipVerify: true}
	// A server that does not answer shows up as errors within the run rather than after quic-go's 5 s default.
	quicConfig := &quic.Config{HandshakeIdleTimeout: 2 * time.Second, MaxIdleTimeout: 30 * time.Second, KeepAlivePeriod: 10 * time.Second}
	var total counters
	var stop int32
	var workers sync.WaitGroup
	transports := make([]*http3.RoundTripper, *connections)
	for index := range transports {
		transports[index] = &http3.RoundTripper{TLSClientConfig: tlsConfig, QuicConfig: quicConfig, DisableCompression: true}
	}
	for _, transport := range transports {
		for stream := 0; stream < *streams; stream++ {
			workers.Add(1)
			go func(transport *http3.RoundTripper) {
				defer workers.Done()
				buffer := make([]byte, 64*1024)
				for atomic.LoadInt32(&stop) == 0 {
					request, err := http.NewRequest(http.MethodGet, *url, nil)
					if err != nil {
						atomic.AddInt64(&total.errors, 1)
						return
					}
					response, err := transport.RoundTrip(request)
					if err != nil {
						atomic.AddInt64(&total.errors, 1)
						// A refused connection must not spin: wait a little before the next attempt.
						time.Sleep(10 * time.Millisecond)
						continue
					}
					// Bytes count as they arrive, so a run shorter than one large response still measures throughput.
					for {
						n, readErr := response.Body.Read(buffer)
						atomic.AddInt64(&total.bytes, int64(n))
						if readErr == io.EOF {
							break
						}
						if readErr != nil {
							err = readErr
							break
						}
					}
					response.Body.Close()
					if err != nil || response.StatusCode != http.StatusOK {
						atomic.AddInt64(&total.errors, 1)
						continue
					}
					atomic.AddInt64(&total.requests, 1)
				}
			}(transport)
		}
	}

	time.Sleep(time.Duration(*warmup * float64(time.Second)))
	fmt.Println("start")
	before := total.snapshot()
	cpuBefore := cpuSeconds()
	started := time.Now()
	time.Sleep(time.Duration(*duration * float64(time.Second)))
	after := total.snapshot()
	seconds := time.Since(started).Seconds()
	cpu := cpuSeconds() - cpuBefore
	atomic.StoreInt32(&stop, 1)

	result, _ := json.Marshal(map[string]interface{}{
		"requests":  after.requests - before.requests,
		"bytes":     after.bytes - before.bytes,
		"errors":    after.errors - before.errors,
		"seconds":   seconds,
		"clientCpu": cpu,
	})
	fmt.Printf("result %s\n", result)
	// In-flight requests are abandoned: the result is out, and closing waits for nothing the harness needs.
	done := make(chan struct{})
	go func() {
		for _, transport := range transports {
			transport.Close()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}
