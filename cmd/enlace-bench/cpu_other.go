//go:build !unix

package main

// processCPU is not read where getrusage is missing: the report's CPU
// figures are then 0.
func processCPU() float64 { return 0 }
