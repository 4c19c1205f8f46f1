package kubecluster

import "testing"

func TestExpandEnvAsAKubeletDoes(t *testing.T) {
	vars := map[string]string{"HOST": "10.96.0.7", "PORT": "5432", "EMPTY": ""}
	for in, want := range map[string]string{
		"http://$(HOST):$(PORT)/x": "http://10.96.0.7:5432/x",
		"$$(HOST)":                 "$(HOST)",
		"$(UNKNOWN)-$(HOST)":       "$(UNKNOWN)-10.96.0.7",
		"a$(EMPTY)b":               "ab",
		"$(HOST":                   "$(HOST",
		"cost $5 $":                "cost $5 $",
		"":                         "",
	} {
		if got := expandEnv(in, vars); got != want {
			t.Errorf("expandEnv(%q) = %q, want %q", in, got, want)
		}
	}
}
