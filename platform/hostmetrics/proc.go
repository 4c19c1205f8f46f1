package hostmetrics

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on every Linux architecture Go
// supports).
const clockTick = 10 * time.Millisecond

// ProcessUsage is a process's usage read from /proc (Linux): the CPU time of the process and
// of the children it has waited for, and its resident memory.
func ProcessUsage(pid int) (Usage, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Usage{}, err
	}
	// The command name, field 2, is in parentheses and may hold spaces: the fields counted
	// here start after its closing parenthesis, with field 3 (the state).
	s := string(b)
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return Usage{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 15 {
		return Usage{}, fmt.Errorf("/proc/%d/stat: %d fields after the command name, want at least 15", pid, len(f))
	}
	var ticks [4]int64 // utime, stime, cutime, cstime: fields 14-17
	for i := range ticks {
		if ticks[i], err = strconv.ParseInt(f[11+i], 10, 64); err != nil {
			return Usage{}, fmt.Errorf("/proc/%d/stat: field %d: %w", pid, 14+i, err)
		}
	}
	rss, err := residentBytes(strconv.Itoa(pid))
	if err != nil {
		return Usage{}, err
	}
	return Usage{User: time.Duration(ticks[0]+ticks[2]) * clockTick, System: time.Duration(ticks[1]+ticks[3]) * clockTick, Resident: rss}, nil
}

// Add is the usage of u's processes and v's together.
func (u Usage) Add(v Usage) Usage {
	return Usage{User: u.User + v.User, System: u.System + v.System, Resident: u.Resident + v.Resident}
}

// CPU is the whole CPU time, user and system.
func (u Usage) CPU() time.Duration { return u.User + u.System }

// residentBytes is a process's resident memory from /proc/PID/statm ("self": this one's).
func residentBytes(pid string) (float64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/statm")
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(string(b))
	if len(fields) < 2 {
		return 0, fmt.Errorf("/proc/%s/statm: %d fields, want at least 2", pid, len(fields))
	}
	pages, err := strconv.ParseFloat(fields[1], 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/%s/statm: %w", pid, err)
	}
	return pages * float64(os.Getpagesize()), nil
}
