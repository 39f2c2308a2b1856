package main

import (
	"context"
	"errors"

	"github.com/easyautoml/dbharness/bench/internal/measure"
)

func (e *env) startup(ctx context.Context, p measure.Plan, r *Report) error   { return errNotYet }
func (e *env) scenarios(ctx context.Context, p measure.Plan, r *Report) error { return errNotYet }
func (e *env) memory(ctx context.Context, p measure.Plan, r *Report) error    { return errNotYet }

var errNotYet = errors.New("not measured yet")
