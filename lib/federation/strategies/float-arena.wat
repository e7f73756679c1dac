;; The float arenas' SIMD kernels (see float-arena.ts). Assembled by the `wabt` package:
;; `npm run build:wasm` writes float-arena.wasm.ts, and test/unit/federation/float-arena-wat.test.ts
;; checks that the bytes float-arena.ts loads are exactly this text assembled.
;; Every kernel takes byte addresses into the imported memory (16-byte aligned rows) and a count n
;; of float32 values, a multiple of 4; the caller handles any tail.
(module
  (import "env" "memory" (memory 1))

  ;; y[k] += a * x[k] for k < n
  (func $axpy (export "axpy") (param $y i32) (param $x i32) (param $n i32) (param $a f32)
    (local $end i32) (local $av v128)
    ;; $end = $y + 4 * $n; $av = (a, a, a, a)
    local.get $y
    local.get $n
    i32.const 2
    i32.shl
    i32.add
    local.set $end
    local.get $a
    f32x4.splat
    local.set $av
    block $done
      loop $next
        local.get $y
        local.get $end
        i32.ge_u
        br_if $done
        ;; store $y (y + av * x)
        local.get $y
        local.get $y
        v128.load
        local.get $av
        local.get $x
        v128.load
        f32x4.mul
        f32x4.add
        v128.store
        local.get $y
        i32.const 16
        i32.add
        local.set $y
        local.get $x
        i32.const 16
        i32.add
        local.set $x
        br $next
      end
    end)

  ;; a[k], b[k] = min, max of (a[k], b[k]) for k < n: one comparator of a sorting network, on n
  ;; coordinates at once
  (func $cmpx (export "cmpx") (param $a i32) (param $b i32) (param $n i32)
    (local $end i32) (local $va v128) (local $vb v128)
    local.get $a
    local.get $n
    i32.const 2
    i32.shl
    i32.add
    local.set $end
    block $done
      loop $next
        local.get $a
        local.get $end
        i32.ge_u
        br_if $done
        local.get $a
        v128.load
        local.set $va
        local.get $b
        v128.load
        local.set $vb
        ;; store $a (pmin: $vb < $va ? $vb : $va); store $b (pmax: $va < $vb ? $vb : $va)
        local.get $a
        local.get $va
        local.get $vb
        f32x4.pmin
        v128.store
        local.get $b
        local.get $va
        local.get $vb
        f32x4.pmax
        v128.store
        local.get $a
        i32.const 16
        i32.add
        local.set $a
        local.get $b
        i32.const 16
        i32.add
        local.set $b
        br $next
      end
    end)

  ;; sum over k < n of (a[k] - b[k])^2: differences in float32 (the values are float32), squares and
  ;; sums in float64, two f64x2 accumulators for the low and high halves of each 4-lane difference
  (func $sqdist (export "sqdist") (param $a i32) (param $b i32) (param $n i32) (result f64)
    (local $end i32) (local $d v128) (local $acc0 v128) (local $acc1 v128) (local $p v128)
    local.get $a
    local.get $n
    i32.const 2
    i32.shl
    i32.add
    local.set $end
    block $done
      loop $next
        local.get $a
        local.get $end
        i32.ge_u
        br_if $done
        local.get $a
        v128.load
        local.get $b
        v128.load
        f32x4.sub
        local.set $d
        ;; $acc0 += promote_low($d)^2
        local.get $d
        f64x2.promote_low_f32x4
        local.tee $p
        local.get $p
        f64x2.mul
        local.get $acc0
        f64x2.add
        local.set $acc0
        ;; $acc1 += promote_low(high half of $d moved to the low)^2
        local.get $d
        local.get $d
        i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7
        f64x2.promote_low_f32x4
        local.tee $p
        local.get $p
        f64x2.mul
        local.get $acc1
        f64x2.add
        local.set $acc1
        local.get $a
        i32.const 16
        i32.add
        local.set $a
        local.get $b
        i32.const 16
        i32.add
        local.set $b
        br $next
      end
    end
    ;; the four f64 lanes added: lane 0 + lane 1 of $acc0 + $acc1
    local.get $acc0
    local.get $acc1
    f64x2.add
    local.tee $p
    f64x2.extract_lane 0
    local.get $p
    f64x2.extract_lane 1
    f64.add))
