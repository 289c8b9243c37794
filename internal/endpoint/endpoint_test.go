package endpoint

import "testing"

func TestParse(t *testing.T) {
	good := map[string]string{
		"db.shop.svc.cluster.local:3306": "db.shop.svc.cluster.local:3306",
		"10.0.0.5:3306":                  "10.0.0.5:3306",
		"[2001:db8::1]:3306":             "[2001:db8::1]:3306",
		"[2001:DB8:0::1]:1":              "[2001:db8::1]:1",
		"[::ffff:10.0.0.5]:3306":         "10.0.0.5:3306",
		"mariadb:65535":                  "mariadb:65535",
	}
	for in, want := range good {
		e, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if e.String() != want {
			t.Errorf("Parse(%q) = %s, want %s", in, e, want)
		}
	}
	for _, in := range []string{
		"", "db", "db:", ":3306", "db:0", "db:65536", "db:99999", "db:+3306", "db:3306 ", "db:0x10",
		"DB.example.com:3306", "db_1:3306", "-db:3306", "db..x:3306", "999.1.1.1:3306", "010.0.0.5:3306",
		"10.0.0:3306", "2001:db8::1:3306", "[2001:db8::1%eth0]:3306", "[10.0.0.5]:3306", "[db]:3306",
		"user@db:3306", "db/x:3306", "db:3306:3306",
	} {
		if e, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %s, want an error", in, e)
		}
	}
}

func TestAllowed(t *testing.T) {
	declared := []string{"db.shop.svc:3306", "10.0.0.5:3306", "[2001:db8::1]:3306", "not valid"}
	cases := map[string]bool{
		"db.shop.svc:3306":        true,
		"DB.Shop.SVC.:3306":       true, // the same name as a resolver reads it
		"10.0.0.5:3306":           true,
		"[::ffff:10.0.0.5]:3306":  true,
		"[2001:db8:0::1]:3306":    true,
		"db.shop.svc:3307":        false,
		"db.shop.svc.evil:3306":   false,
		"10.0.0.6:3306":           false,
		"010.0.0.5:3306":          false, // a name to the resolver, not the address
		"0x0a000005:3306":         false,
		"localhost:3306":          false,
		"127.0.0.1:3306":          false,
		"[2001:db8::1%eth0]:3306": false,
		"not valid:3306":          false,
	}
	for addr, want := range cases {
		e, err := Address(addr)
		if err != nil {
			if want {
				t.Errorf("Address(%q): %v", addr, err)
			}
			continue
		}
		if got := Allowed(e, declared); got != want {
			t.Errorf("Allowed(%q) = %v, want %v", addr, got, want)
		}
	}
	if e, _ := Address("10.0.0.5:3306"); Allowed(e, nil) {
		t.Error("an empty declaration allowed an endpoint")
	}
}
