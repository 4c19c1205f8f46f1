package node

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

func TestFence(t *testing.T) {
	var f Fence
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fl := f.Listener(ln)
	go func() {
		for {
			c, err := fl.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }() // echo
		}
	}()
	echo := func(c net.Conn) error {
		c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte("x")); err != nil {
			return err
		}
		_, err := c.Read(make([]byte, 1))
		return err
	}

	// Down: traffic flows both ways, through the fence's dialer too.
	out, err := f.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := echo(out); err != nil {
		t.Fatalf("echo before the partition: %v", err)
	}
	// Up: open connections are cut, new ones in are reset, dials out fail.
	f.Set(true)
	if err := echo(out); err == nil {
		t.Error("an open connection survived the partition")
	}
	in, err := net.Dial("tcp", ln.Addr().String())
	if err == nil {
		if err := echo(in); err == nil {
			t.Error("a new connection in got through the partition")
		}
		in.Close()
	}
	if _, err := f.DialContext(context.Background(), "tcp", ln.Addr().String()); !errors.Is(err, ErrPartitioned) {
		t.Errorf("dial out during the partition: %v", err)
	}
	// Down again: everything works.
	f.Set(false)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := echo(c); err != nil {
		t.Errorf("echo after the partition: %v", err)
	}
}
