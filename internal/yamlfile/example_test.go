package yamlfile_test

import (
	"fmt"

	"github.com/dailydoco/ddp-verify/internal/yamlfile"
)

func ExampleDecode() {
	type scenario struct {
		Executor string `yaml:"executor"`
		VUs      int    `yaml:"vus"`
	}
	type profile struct {
		Name      string     `yaml:"name"`
		Scenarios []scenario `yaml:"scenarios"`
	}
	data := []byte(`name: smoke
scenarios:
  - executor: [constant-vus]
    vus: 5
    thinktime: 1s
`)
	var p profile
	_, err := yamlfile.Decode("profile.yaml", data, &p)
	fmt.Println(err)
	// Output:
	// profile.yaml:3: scenarios[0].executor: want a string, got a sequence
	// profile.yaml:5: scenarios[0].thinktime: unknown field
}

func ExampleValidator() {
	type profile struct {
		Name string `yaml:"name"`
		VUs  []int  `yaml:"vus"`
	}
	var p profile
	doc, err := yamlfile.Decode("profile.yaml", []byte("name: \"\"\nvus: [5, 0]\n"), &p)
	if err != nil {
		panic(err)
	}
	v := yamlfile.Validator{Doc: doc}
	if p.Name == "" {
		v.Fail("name", "is required")
	}
	for i, n := range p.VUs {
		if n < 1 {
			v.Fail(yamlfile.Index("vus", i), "must be at least 1 (got %d)", n)
		}
	}
	fmt.Println(v.Err())
	// Output:
	// profile.yaml:1: name: is required
	// profile.yaml:2: vus[1]: must be at least 1 (got 0)
}
