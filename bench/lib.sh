# What the benchmarks share (sourced after test/lib.sh): nginx serving
# files from a directory on loopback, and the best time of a statement.

NGINX_PORT=${NGINX_PORT:-8089}

# start_nginx ROOT [LINES]: serve ROOT on 127.0.0.1:NGINX_PORT; LINES go
# into its server block
start_nginx() {
	local root=$1 extra=${2:-}
	log "starting nginx on 127.0.0.1:$NGINX_PORT"
	mkdir -p "$WORK_DIR/nginx_tmp"
	cat >"$WORK_DIR/nginx.conf" <<CONF
pid $WORK_DIR/nginx.pid;
error_log $WORK_DIR/nginx_error.log;
worker_processes 1;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  default_type application/octet-stream;
  client_body_temp_path $WORK_DIR/nginx_tmp;
  proxy_temp_path $WORK_DIR/nginx_tmp;
  fastcgi_temp_path $WORK_DIR/nginx_tmp;
  uwsgi_temp_path $WORK_DIR/nginx_tmp;
  scgi_temp_path $WORK_DIR/nginx_tmp;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $root;
    $extra
  }
}
CONF
	nginx -c "$WORK_DIR/nginx.conf"
}

stop_nginx_and_cleanup() {
	[ -f "$WORK_DIR/nginx.pid" ] && kill "$(cat "$WORK_DIR/nginx.pid")" 2>/dev/null || true
	cleanup
}

# best_of STATEMENT: its seconds in psql, the minimum of RUNS runs
best_of() {
	local best="" t i
	for i in $(seq 1 "$RUNS"); do
		t=$(sql -At -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1)
		best=$(python3 -c "print(min(x for x in [$t, ${best:-$t}]))")
	done
	python3 -c "print(f'{$best / 1000:.3f}')"
}
