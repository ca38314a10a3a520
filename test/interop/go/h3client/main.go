// h3client: a small HTTP/3 client on quic-go for the interop tests and the throughput comparison.
//
//	h3client [-insecure] [-ca file] [-repeat n] [-concurrency c] url...
//
// Fetches every URL (repeat times, c at a time, all on one QUIC connection per host) and prints, per response,
// "status <code> <proto> <bytes> <sha256>"; with -repeat it prints "done <requests> <bytes> <seconds>" at the end.
package main

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lucas-clemente/quic-go/http3"
)

func main() {
	insecure := flag.Bool("insecure", false, "skip certificate verification")
	caFile := flag.String("ca", "", "PEM file of the CA (or self-signed certificate) to trust")
	repeat := flag.Int("repeat", 0, "fetch the URLs this many times and print only a summary")
	concurrency := flag.Int("concurrency", 1, "requests in flight at once with -repeat")
	flag.Parse()

	tlsConfig := &tls.Config{InsecureSkipVerify: *insecure}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fail(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fail(fmt.Errorf("no certificate in %s", *caFile))
		}
		tlsConfig.RootCAs = pool
	}
	transport := &http3.RoundTripper{TLSClientConfig: tlsConfig}
	defer transport.Close()
	client := &http.Client{Transport: transport, Timeout: 60 * time.Second}

	if *repeat == 0 {
		for _, url := range flag.Args() {
			response, err := client.Get(url)
			if err != nil {
				fail(err)
			}
			hash := sha256.New()
			n, err := io.Copy(hash, response.Body)
			response.Body.Close()
			if err != nil {
				fail(err)
			}
			fmt.Printf("status %d %s %d %s\n", response.StatusCode, response.Proto, n, hex.EncodeToString(hash.Sum(nil)))
		}
		return
	}

	urls := flag.Args()
	total := *repeat * len(urls)
	var next, bytes, failures int64
	var wait sync.WaitGroup
	start := time.Now()
	for worker := 0; worker < *concurrency; worker++ {
		wait.Add(1)
		go func() {
			defer wait.Done()
			for {
				index := atomic.AddInt64(&next, 1) - 1
				if index >= int64(total) {
					return
				}
				response, err := client.Get(urls[index%int64(len(urls))])
				if err != nil {
					atomic.AddInt64(&failures, 1)
					continue
				}
				n, _ := io.Copy(io.Discard, response.Body)
				response.Body.Close()
				if response.StatusCode != 200 {
					atomic.AddInt64(&failures, 1)
				}
				atomic.AddInt64(&bytes, n)
			}
		}()
	}
	wait.Wait()
	if failures > 0 {
		fail(fmt.Errorf("%d of %d requests failed", failures, total))
	}
	fmt.Printf("done %d %d %.3f\n", total, bytes, time.Since(start).Seconds())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "h3client:", err)
	os.Exit(1)
}
