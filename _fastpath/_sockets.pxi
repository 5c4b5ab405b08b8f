# The C socket declarations both fast paths use (included by vrrp_fast.pyx and
# bfd_fast.pyx): iovec, msghdr/mmsghdr with their cmsgs, sendmmsg/recvmmsg/sendto,
# IPv4/IPv6 socket addresses and packet info.  Option names whose Python spelling a
# module exports are declared as C_<NAME>.

cdef extern from "<errno.h>" nogil:
    int EWOULDBLOCK

cdef extern from "<sys/uio.h>" nogil:
    struct iovec:
        void* iov_base
        size_t iov_len

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    struct timespec:
        time_t tv_sec
        long tv_nsec
    int clock_gettime(int, timespec*)
    int CLOCK_MONOTONIC

cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    ctypedef unsigned short sa_family_t
    struct sockaddr:
        sa_family_t sa_family
    struct msghdr:
        void* msg_name
        socklen_t msg_namelen
        iovec* msg_iov
        size_t msg_iovlen
        void* msg_control
        size_t msg_controllen
        int msg_flags
    struct mmsghdr:
        msghdr msg_hdr
        unsigned int msg_len
    struct cmsghdr:
        size_t cmsg_len
        int cmsg_level
        int cmsg_type
    cmsghdr* CMSG_FIRSTHDR(msghdr*)
    cmsghdr* CMSG_NXTHDR(msghdr*, cmsghdr*)
    unsigned char* CMSG_DATA(cmsghdr*)
    size_t CMSG_SPACE(size_t)
    size_t CMSG_LEN(size_t)
    int sendmmsg(int, mmsghdr*, unsigned int, int)
    ssize_t sendmsg(int, const msghdr*, int)
    int recvmmsg(int, mmsghdr*, unsigned int, int, timespec*)
    ssize_t sendto(int, const void*, size_t, int, const sockaddr*, socklen_t)
    int MSG_DONTWAIT
    int MSG_TRUNC
    int AF_INET
    int AF_INET6
    int SOCK_DGRAM

cdef extern from "<netinet/in.h>" nogil:
    struct in_addr:
        uint32_t s_addr
    struct in6_addr:
        uint8_t s6_addr[16]
    struct sockaddr_in:
        sa_family_t sin_family
        unsigned short sin_port
        in_addr sin_addr
    struct sockaddr_in6:
        sa_family_t sin6_family
        unsigned short sin6_port
        uint32_t sin6_flowinfo
        in6_addr sin6_addr
        uint32_t sin6_scope_id
    struct in_pktinfo:
        int ipi_ifindex
        in_addr ipi_spec_dst
        in_addr ipi_addr
    struct in6_pktinfo:
        in6_addr ipi6_addr
        unsigned int ipi6_ifindex
    int IPPROTO_IP
    int IPPROTO_IPV6
    int C_IP_TTL "IP_TTL"
    int C_IP_PKTINFO "IP_PKTINFO"
    int C_IPV6_PKTINFO "IPV6_PKTINFO"
    int C_IPV6_HOPLIMIT "IPV6_HOPLIMIT"
    unsigned short htons(unsigned short)
