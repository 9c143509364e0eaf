/* bench/mpi/allreduce.c - the time of one in-place allreduce (sum of floats)
 * by message size, for the cost model of docs/scaling.md:
 *
 *   mpirun -np N mpi_allreduce
 *
 * For 4 bytes to 32 MiB (powers of 4): MPI_Allreduce (blocking) and the
 * persistent nonblocking allreduce the trainer uses (started, then waited
 * for), each timed over enough repetitions for about 0.2 s, 5 such batches:
 * their median and their minimum (the time undisturbed by the machine's other
 * work); process 0 prints one JSON line per size and kind. */
#include <mpi.h>
#if defined(OPEN_MPI) && OPEN_MPI
#include <mpi-ext.h>
#endif
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    size_t most = (size_t)32 << 20;
    float *buf = malloc(most);
    for (size_t i = 0; i < most / 4; i++) buf[i] = 1e-3f;
    for (size_t bytes = 4; bytes <= most; bytes *= 4) {
        int n = (int)(bytes / 4);
        for (int kind = 0; kind < 2; kind++) {
#if !(defined(OMPI_HAVE_MPI_EXT_PCOLLREQ) && OMPI_HAVE_MPI_EXT_PCOLLREQ)
            if (kind == 1) break;
            MPI_Request req = MPI_REQUEST_NULL;
#else
            MPI_Request req = MPI_REQUEST_NULL;
            if (kind == 1) MPIX_Allreduce_init(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, MPI_INFO_NULL, &req);
#endif
            /* repetitions for about 0.2 s, decided by process 0 for all (doubling, one broadcast each) */
            int reps = 1;
            for (;;) {
                MPI_Barrier(MPI_COMM_WORLD);
                double t0 = MPI_Wtime();
                for (int i = 0; i < reps; i++) {
                    if (kind == 0) MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
                    else { MPI_Start(&req); MPI_Wait(&req, MPI_STATUS_IGNORE); }
                }
                double t = MPI_Wtime() - t0;
                MPI_Bcast(&t, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
                if (t >= 0.05 || reps >= 1 << 20) break;
                reps *= 2;
            }
            reps = reps * 4 > 1 ? reps * 4 : 1;
            double med[5];
            for (int b = 0; b < 5; b++) {
                MPI_Barrier(MPI_COMM_WORLD);
                double t0 = MPI_Wtime();
                for (int i = 0; i < reps; i++) {
                    if (kind == 0) MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
                    else { MPI_Start(&req); MPI_Wait(&req, MPI_STATUS_IGNORE); }
                }
                med[b] = (MPI_Wtime() - t0) / reps;
            }
            if (req != MPI_REQUEST_NULL) MPI_Request_free(&req);
            qsort(med, 5, sizeof *med, cmp);
            if (rank == 0)
                printf("{\"tool\": \"mpi_allreduce\", \"kind\": \"%s\", \"np\": %d, \"bytes\": %zu, \"seconds\": %.9f, "
                       "\"min\": %.9f}\n", kind ? "persistent" : "blocking", size, bytes, med[2], med[0]);
            fflush(stdout);
        }
    }
    free(buf);
    MPI_Finalize();
    return 0;
}
