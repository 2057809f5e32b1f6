namespace UsageBilling.Mongo;

/// <summary>How <see cref="ReservationState"/> is stored.</summary>
internal static class ReservationStates
{
    public const string Active = "active";
    public const string Settled = "settled";
    public const string Released = "released";
    public const string Expired = "expired";

    public static ReservationState Parse(string state) => state switch
    {
        Active => ReservationState.Active,
        Settled => ReservationState.Settled,
        Released => ReservationState.Released,
        Expired => ReservationState.Expired,
        _ => throw new FormatException($"Unknown reservation state '{state}'."),
    };
}
