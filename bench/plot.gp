# Throughput and p99 latency against connections, our service beside its ceilings.
# Called by bench/load.py: gnuplot -e "datafile='…'; outfile='…'; threads=N" bench/plot.gp
# Columns of datafile: conns, rs256 es256 jwks healthz nginx req/s, rsa and ecdsa ceilings (sign/s × threads),
# then rs256 es256 jwks healthz nginx p99 in ms.

set terminal pngcairo size 1400,600 font "sans,10"
set output outfile
set multiplot layout 1,2 title "macp-auth-service under wrk on loopback (medians of rounds)"
set logscale x 2
set logscale y 10
set xtics (1, 8, 64, 256)
set xrange [0.7:370]
set xlabel "connections"
set grid
set key outside bottom center horizontal maxrows 4 spacing 1.1

set title "throughput (ceilings dotted or dashed)"
set ylabel "requests/s"
set yrange [500:300000]
plot datafile using 1:2 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "POST /tokens RS256", \
     datafile using 1:3 with linespoints lw 2 pt 7 lc rgb "#d62728" title "POST /tokens ES256", \
     datafile using 1:4 with linespoints lw 2 pt 7 lc rgb "#2ca02c" title "GET jwks.json", \
     datafile using 1:5 with linespoints lw 2 pt 7 lc rgb "#9467bd" title "GET /healthz", \
     datafile using 1:6 with linespoints lw 2 pt 6 dt 2 lc rgb "#2ca02c" title "ceiling: nginx static jwks.json", \
     datafile using 1:7 with lines lw 2 dt 3 lc rgb "#1f77b4" title sprintf("ceiling: openssl rsa2048 sign/s × %d", threads), \
     datafile using 1:8 with lines lw 2 dt 3 lc rgb "#d62728" title sprintf("ceiling: openssl ecdsap256 sign/s × %d", threads)

set title "p99 latency"
set ylabel "milliseconds"
set yrange [*:*]
plot datafile using 1:9 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "POST /tokens RS256", \
     datafile using 1:10 with linespoints lw 2 pt 7 lc rgb "#d62728" title "POST /tokens ES256", \
     datafile using 1:11 with linespoints lw 2 pt 7 lc rgb "#2ca02c" title "GET jwks.json", \
     datafile using 1:12 with linespoints lw 2 pt 7 lc rgb "#9467bd" title "GET /healthz", \
     datafile using 1:13 with linespoints lw 2 pt 6 dt 2 lc rgb "#2ca02c" title "nginx static jwks.json"
unset multiplot
