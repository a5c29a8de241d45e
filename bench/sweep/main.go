// The gateway's reconcile sweep, measured from a compiled gRPC client as the gateway's own
// (Rust) one is: ListSandboxes, then GetSandbox for every listed sandbox, one after another
// (reference openshell-compute-driver.md §2.6). So the figure is the facade's, not a Node
// client's: a grpc-js client spends more CPU per call than the facade answering it.
//
//	sweep driver <socket>                      ComputeDriver over its Unix socket
//	sweep temporal <host:port> <namespace> <query>  the bare equivalent: list + describe each
//
// Prints one JSON object: {"listed": n, "listMs": …, "wallMs": …, "getP50Ms": …, "getP99Ms": …}.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"

	"go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/protobuf/encoding/protowire"
)

type result struct {
	Listed   int     `json:"listed"`
	ListMs   float64 `json:"listMs"`
	WallMs   float64 `json:"wallMs"`
	GetP50Ms float64 `json:"getP50Ms"`
	GetP99Ms float64 `json:"getP99Ms"`
}

func main() {
	if len(os.Args) < 3 {
		fail(fmt.Errorf("usage: sweep driver <socket> | sweep temporal <address> <namespace> <query>"))
	}
	var r result
	var err error
	switch os.Args[1] {
	case "driver":
		r, err = sweepDriver(os.Args[2])
	case "temporal":
		if len(os.Args) < 5 {
			fail(fmt.Errorf("usage: sweep temporal <address> <namespace> <query>"))
		}
		r, err = sweepTemporal(os.Args[2], os.Args[3], os.Args[4])
	default:
		err = fmt.Errorf("unknown target %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "sweep:", err)
	os.Exit(1)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// timeEach calls get for each key in turn; the result has the whole wall time since began.
func timeEach[K any](began time.Time, listed time.Duration, keys []K, get func(K) error) (result, error) {
	lat := make([]float64, 0, len(keys))
	for _, key := range keys {
		t := time.Now()
		if err := get(key); err != nil {
			return result{}, err
		}
		lat = append(lat, ms(time.Since(t)))
	}
	wall := time.Since(began)
	sort.Float64s(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(p/100*float64(len(lat))+0.999999) - 1
		return lat[max(0, min(len(lat)-1, i))]
	}
	return result{Listed: len(keys), ListMs: ms(listed), WallMs: ms(wall), GetP50Ms: pct(50), GetP99Ms: pct(99)}, nil
}

// ---------------------------------------------------------------------------------------------
// ComputeDriver, with hand-encoded messages: only ids and names are needed here, and the wire
// format of those two fields is all this client has to know (proto/compute_driver.proto).

type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

var _ encoding.Codec = rawCodec{}

type sandboxRef struct{ id, name string }

func sweepDriver(socket string) (result, error) {
	conn, err := grpc.NewClient("unix://"+socket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{}), grpc.MaxCallRecvMsgSize(1<<30)))
	if err != nil {
		return result{}, err
	}
	defer conn.Close()
	ctx := context.Background()
	const service = "/openshell.compute.v1.ComputeDriver/"

	began := time.Now()
	request, response := []byte{}, []byte{}
	if err := conn.Invoke(ctx, service+"ListSandboxes", &request, &response); err != nil {
		return result{}, fmt.Errorf("ListSandboxes: %w", err)
	}
	refs, err := listedSandboxes(response)
	if err != nil {
		return result{}, err
	}
	listed := time.Since(began)
	return timeEach(began, listed, refs, func(ref sandboxRef) error {
		// GetSandboxRequest: sandbox_id = 1, sandbox_name = 2.
		req := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), ref.id)
		req = protowire.AppendString(protowire.AppendTag(req, 2, protowire.BytesType), ref.name)
		var res []byte
		if err := conn.Invoke(ctx, service+"GetSandbox", &req, &res); err != nil {
			return fmt.Errorf("GetSandbox %s: %w", ref.id, err)
		}
		return nil
	})
}

// listedSandboxes reads ListSandboxesResponse.sandboxes (1) and each DriverSandbox's id (1) and name (2).
func listedSandboxes(b []byte) ([]sandboxRef, error) {
	var refs []sandboxRef
	err := eachField(b, func(num protowire.Number, value []byte) error {
		if num != 1 {
			return nil
		}
		var ref sandboxRef
		err := eachField(value, func(num protowire.Number, value []byte) error {
			switch num {
			case 1:
				ref.id = string(value)
			case 2:
				ref.name = string(value)
			}
			return nil
		})
		refs = append(refs, ref)
		return err
	})
	return refs, err
}

// eachField calls fn with every length-delimited field of b and skips the others.
func eachField(b []byte, fn func(protowire.Number, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		value, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		if err := fn(num, value); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// ---------------------------------------------------------------------------------------------
// The bare workflow's equivalent on Temporal's own API: one visibility list, then one describe each.

func sweepTemporal(address, namespace, query string) (result, error) {
	conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30)))
	if err != nil {
		return result{}, err
	}
	defer conn.Close()
	ctx := context.Background()
	service := workflowservice.NewWorkflowServiceClient(conn)

	began := time.Now()
	var executions []*common.WorkflowExecution
	var token []byte
	for {
		page, err := service.ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, Query: query, NextPageToken: token, PageSize: 1000,
		})
		if err != nil {
			return result{}, fmt.Errorf("ListWorkflowExecutions: %w", err)
		}
		for _, info := range page.Executions {
			executions = append(executions, info.Execution)
		}
		if token = page.NextPageToken; len(token) == 0 {
			break
		}
	}
	listed := time.Since(began)
	return timeEach(began, listed, executions, func(execution *common.WorkflowExecution) error {
		_, err := service.DescribeWorkflowExecution(ctx, &workflowservice.DescribeWorkflowExecutionRequest{
			Namespace: namespace, Execution: execution,
		})
		return err
	})
}
