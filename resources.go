package shoal

import (
	"fmt"
	"math"

	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
)

// Resources is an amount of CPU, GPU, memory and custom resources. CPU, GPU
// and custom amounts may be fractional (down to 0.0001).
type Resources struct {
	CPU    float64
	GPU    float64
	Memory int64 // bytes
	Custom map[string]float64
}

func toUnits(what string, v float64) (int64, error) {
	if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s amount %v must be a finite number ≥ 0", what, v)
	}
	return int64(math.Round(v * scheduler.Unit)), nil
}

func (r Resources) internal() (scheduler.Resources, error) {
	var out scheduler.Resources
	var err error
	if out.CPU, err = toUnits("CPU", r.CPU); err != nil {
		return out, err
	}
	if out.GPU, err = toUnits("GPU", r.GPU); err != nil {
		return out, err
	}
	if r.Memory < 0 {
		return out, fmt.Errorf("memory amount %d must be ≥ 0", r.Memory)
	}
	out.Memory = r.Memory
	for k, v := range r.Custom {
		u, err := toUnits(fmt.Sprintf("custom resource %q", k), v)
		if err != nil {
			return out, err
		}
		if out.Custom == nil {
			out.Custom = map[string]int64{}
		}
		out.Custom[k] = u
	}
	return out, nil
}

func resourcesFromPB(p *pb.Resources) Resources {
	if p == nil {
		return Resources{}
	}
	r := Resources{CPU: float64(p.Cpu) / scheduler.Unit, GPU: float64(p.Gpu) / scheduler.Unit, Memory: p.Memory}
	for k, v := range p.Custom {
		if r.Custom == nil {
			r.Custom = map[string]float64{}
		}
		r.Custom[k] = float64(v) / scheduler.Unit
	}
	return r
}

func (r Resources) String() string {
	in, err := r.internal()
	if err != nil {
		return "invalid resources: " + err.Error()
	}
	return in.String()
}
